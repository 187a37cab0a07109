//! A row of the watchlist table: per-symbol settings of the strategy, the risk limits and the protection, typed
//! when read (docs/DESIGN.md §3).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{Side, Symbol};
use crate::market::candles::Timeframe;
use crate::market::indicators::RsiMethod;
use crate::market::strategy::{Emission, Preset};
use crate::order::protection::{OnFailure, ProtectionSettings};
use crate::risk::RiskLimits;

/// A row of the watchlist table: per-symbol configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchlistEntry {
    pub symbol: Symbol,
    #[serde(default = "yes")]
    pub alert_enabled: bool,
    #[serde(default = "yes")]
    pub trade_enabled: bool,
    /// An ORDER PLACED confirmation on Telegram for each order of this symbol (default on).
    #[serde(default = "yes")]
    pub notify_order_placed: bool,
    #[serde(default = "default_trade_amount", with = "rust_decimal::serde::str")]
    pub trade_amount_usd: Decimal,
    #[serde(default = "default_preset")]
    pub preset: Setting<&'static Preset>,
    #[serde(default)]
    pub min_price_change_pct: Option<f64>,
    #[serde(default)]
    pub cooldown_minutes: Option<f64>,
    /// Per-symbol overrides of the preset: BUY only at or under this price; another volume minimum; another timeframe.
    #[serde(default)]
    pub buy_target: Option<f64>,
    #[serde(default)]
    pub volume_min_ratio: Option<f64>,
    #[serde(default)]
    pub timeframe: Option<Setting<Timeframe>>,
    /// `simple` (default, the original's) or `wilder`.
    #[serde(default)]
    pub rsi_method: Option<Setting<RsiMethod>>,
    /// A SELL sells the configured amount (`trade_amount_usd` at the signal's price) even beyond what this system's
    /// fills hold: for an account that holds coins bought elsewhere (default off: a SELL sells at most what is held,
    /// docs/DESIGN.md §13). Read by the orchestrator when it sizes a SELL.
    #[serde(default)]
    pub sell_held_elsewhere: bool,
    /// A stop-loss and a take-profit on the exchange after each filled BUY (default on; docs/DESIGN.md §14). Written
    /// `true`/`false` or `"on"`/`"off"`.
    #[serde(default = "yes", deserialize_with = "on_off")]
    pub protection: bool,
    /// Percent under the average fill price for the stop; default the preset's (3 conservative, 2 aggressive).
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub sl_percentage: Option<Decimal>,
    /// Percent over the average fill price for the take-profit; default the preset's.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub tp_percentage: Option<Decimal>,
    /// `flatten` (default: close the position with a market SELL when no stop can be placed) or `alert`.
    #[serde(default)]
    pub on_protection_failure: Option<Setting<OnFailure>>,
    /// Per-symbol risk limits (docs/DESIGN.md §11), read by the orchestrator at each claim.
    #[serde(flatten)]
    pub limits: RiskLimits,
    /// Throttle state (not configuration): the last sent BUY and SELL of this symbol.
    #[serde(skip)]
    pub last_buy: Option<Emission>,
    #[serde(skip)]
    pub last_sell: Option<Emission>,
}

impl WatchlistEntry {
    /// A row for `symbol` with every setting at its default (the same defaults a stored row without them reads as).
    pub fn new(symbol: Symbol) -> Self {
        Self {
            symbol,
            alert_enabled: yes(),
            trade_enabled: yes(),
            notify_order_placed: yes(),
            trade_amount_usd: default_trade_amount(),
            preset: default_preset(),
            min_price_change_pct: None,
            cooldown_minutes: None,
            buy_target: None,
            volume_min_ratio: None,
            timeframe: None,
            rsi_method: None,
            sell_held_elsewhere: false,
            protection: yes(),
            sl_percentage: None,
            tp_percentage: None,
            on_protection_failure: None,
            limits: RiskLimits::default(),
            last_buy: None,
            last_sell: None,
        }
    }

    pub fn last(&self, side: Side) -> Option<&Emission> {
        match side {
            Side::Buy => self.last_buy.as_ref(),
            Side::Sell => self.last_sell.as_ref(),
        }
    }

    /// Everything wrong with this row's configuration, each in words an operator can act on (empty: valid).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let s = &self.symbol;
        if let Setting::Invalid(raw) = &self.preset {
            let names: Vec<&str> = crate::market::strategy::PRESETS.iter().map(|p| p.name).collect();
            out.push(format!("{s}: preset {raw:?} is not one of {}", names.join(", ")));
        }
        if self.trade_amount_usd <= Decimal::ZERO {
            out.push(format!(
                "{s}: trade_amount_usd {} must be more than 0",
                self.trade_amount_usd
            ));
        }
        if let Some(Setting::Invalid(tf)) = &self.timeframe {
            out.push(format!(
                "{s}: timeframe {tf:?} is not one of 1m 5m 15m 30m 1h 2h 4h 12h 1D"
            ));
        }
        if let Some(Setting::Invalid(m)) = &self.rsi_method {
            out.push(format!("{s}: rsi_method {m:?} is neither simple nor wilder"));
        }
        let numbers = [
            ("min_price_change_pct", self.min_price_change_pct, false),
            ("cooldown_minutes", self.cooldown_minutes, false),
            ("buy_target", self.buy_target, true),
            ("volume_min_ratio", self.volume_min_ratio, false),
        ];
        for (name, value, positive) in numbers {
            if let Some(v) = value.filter(|v| !v.is_finite() || *v < 0.0 || (positive && *v == 0.0)) {
                let bound = if positive { "more than 0" } else { "0 or more" };
                out.push(format!("{s}: {name} {v} must be a number, {bound}"));
            }
        }
        out.extend(self.limits.problems(s.as_str()));
        for (name, pct) in [
            ("sl_percentage", self.sl_percentage),
            ("tp_percentage", self.tp_percentage),
        ] {
            if let Some(v) = pct.filter(|v| *v <= Decimal::ZERO || *v >= Decimal::from(50)) {
                out.push(format!("{s}: {name} {v} must be more than 0 and under 50 (percent)"));
            }
        }
        if let Some(Setting::Invalid(m)) = &self.on_protection_failure {
            out.push(format!("{s}: on_protection_failure {m:?} is neither flatten nor alert"));
        }
        out
    }

    /// The protection settings of this row: its own percentages, else its preset's; a setting that names nothing
    /// (or a preset that names nothing) falls back to the safe default — protection stays on, failures flatten.
    pub fn protection_settings(&self) -> ProtectionSettings {
        let preset_pct = self
            .preset
            .valid()
            .map_or(crate::market::strategy::DEFAULT_PRESET.protection_pct, |p| {
                p.protection_pct
            });
        ProtectionSettings {
            enabled: self.protection,
            sl_pct: self.sl_percentage.unwrap_or(preset_pct),
            tp_pct: self.tp_percentage.unwrap_or(preset_pct),
            on_failure: self
                .on_protection_failure
                .as_ref()
                .and_then(Setting::valid)
                .unwrap_or(OnFailure::Flatten),
        }
    }
}

impl Named for OnFailure {
    fn from_name(raw: &str) -> Option<Self> {
        Self::parse(raw)
    }
    fn name(&self) -> &str {
        self.as_str()
    }
}

/// A switch written as a boolean or as `"on"` / `"off"`.
fn on_off<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Switch {
        Bool(bool),
        Word(String),
    }
    match Switch::deserialize(d)? {
        Switch::Bool(b) => Ok(b),
        Switch::Word(w) if w.eq_ignore_ascii_case("on") => Ok(true),
        Switch::Word(w) if w.eq_ignore_ascii_case("off") => Ok(false),
        Switch::Word(w) => Err(serde::de::Error::custom(format!("{w:?} is neither on nor off"))),
    }
}

fn yes() -> bool {
    true
}
fn default_trade_amount() -> Decimal {
    Decimal::from(100)
}
fn default_preset() -> Setting<&'static Preset> {
    Setting::Valid(crate::market::strategy::DEFAULT_PRESET)
}

/// A watchlist setting stored as text: the value it names, read once when the row is read, or the text when it names
/// none — kept, so that the row still lists, the evaluator skips that one symbol with the reason, and
/// `WatchlistEntry::problems` tells the operator what to fix.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting<T> {
    Valid(T),
    Invalid(String),
}

/// A value the watchlist stores by name.
pub trait Named: Sized {
    fn from_name(raw: &str) -> Option<Self>;
    fn name(&self) -> &str;
}

impl<T: Named> Setting<T> {
    pub fn read(raw: &str) -> Self {
        T::from_name(raw).map_or_else(|| Self::Invalid(raw.to_string()), Self::Valid)
    }

    /// The value, or None when the stored text names none.
    pub fn valid(&self) -> Option<T>
    where
        T: Copy,
    {
        match self {
            Self::Valid(v) => Some(*v),
            Self::Invalid(_) => None,
        }
    }

    /// The name as stored: the value's, or the text that named none.
    pub fn name(&self) -> &str {
        match self {
            Self::Valid(v) => v.name(),
            Self::Invalid(raw) => raw,
        }
    }
}

impl<T: Named> Serialize for Setting<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de, T: Named> Deserialize<'de> for Setting<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::read(&String::deserialize(deserializer)?))
    }
}

impl Named for &'static Preset {
    fn from_name(raw: &str) -> Option<Self> {
        crate::market::strategy::preset(raw)
    }
    fn name(&self) -> &str {
        self.name
    }
}

impl Named for Timeframe {
    fn from_name(raw: &str) -> Option<Self> {
        Self::parse(raw)
    }
    fn name(&self) -> &str {
        self.as_str()
    }
}

impl Named for RsiMethod {
    fn from_name(raw: &str) -> Option<Self> {
        Self::parse(raw)
    }
    fn name(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchlist_settings_are_typed_when_read_and_a_bad_name_is_kept_for_the_operator() {
        let e: WatchlistEntry = serde_json::from_value(serde_json::json!({
            "symbol": "ETH_BTC", "preset": "Scalp-Aggressive", "timeframe": "4h", "rsi_method": "Wilder"
        }))
        .unwrap();
        assert!(matches!(e.preset, Setting::Valid(p) if p.name == "scalp-aggressive"));
        assert_eq!(e.timeframe, Some(Setting::Valid(Timeframe::H4)));
        assert_eq!(e.rsi_method, Some(Setting::Valid(RsiMethod::Wilder)));
        assert!(e.problems().is_empty());
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(
            (&back["preset"], &back["rsi_method"]),
            (&"scalp-aggressive".into(), &"wilder".into())
        );

        let bad: WatchlistEntry =
            serde_json::from_value(serde_json::json!({ "symbol": "ETH_BTC", "preset": "yolo", "timeframe": "7m" }))
                .unwrap();
        assert_eq!(bad.preset, Setting::Invalid("yolo".into()));
        assert_eq!(bad.timeframe, Some(Setting::Invalid("7m".into())));
        assert_eq!(bad.problems().len(), 2, "{:?}", bad.problems());
        assert_eq!(
            serde_json::to_value(&bad).unwrap()["preset"],
            "yolo",
            "written back as it was"
        );

        let default: WatchlistEntry = serde_json::from_value(serde_json::json!({ "symbol": "ETH_BTC" })).unwrap();
        assert_eq!(default.preset.name(), "swing-aggressive");
        // Protection: on by default at the preset's distance; "off", percentages and the failure mode per row.
        let p = default.protection_settings();
        assert_eq!(
            (p.enabled, p.sl_pct, p.on_failure),
            (true, Decimal::from(2), OnFailure::Flatten)
        );
        let custom: WatchlistEntry = serde_json::from_value(serde_json::json!({
            "symbol": "ETH_BTC", "protection": "off", "sl_percentage": "1.5", "on_protection_failure": "alert"
        }))
        .unwrap();
        let p = custom.protection_settings();
        assert_eq!(
            (p.enabled, p.sl_pct, p.tp_pct),
            (false, Decimal::new(15, 1), Decimal::from(2))
        );
        assert_eq!(p.on_failure, OnFailure::Alert);
        let wrong: WatchlistEntry = serde_json::from_value(serde_json::json!({
            "symbol": "ETH_BTC", "tp_percentage": "60", "on_protection_failure": "panic"
        }))
        .unwrap();
        assert_eq!(wrong.problems().len(), 2, "{:?}", wrong.problems());
        assert!(serde_json::from_value::<WatchlistEntry>(
            serde_json::json!({ "symbol": "ETH_BTC", "protection": "maybe" })
        )
        .is_err());
        assert_eq!(
            default,
            WatchlistEntry::new(default.symbol.clone()),
            "one set of defaults"
        );
    }
}
