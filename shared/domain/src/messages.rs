//! The Telegram messages' texts (docs/DESIGN.md §9): the BUY/SELL SIGNAL alert, every order message and the halt
//! notice, each saying plainly whether it is live or paper.

use rust_decimal::Decimal;

use crate::decision::ReasonCode;
use crate::ids::{Side, Symbol};
use crate::money::{base_currency, quote_currency};
use crate::order::{ExecutionMode, OrderIntent};
use crate::signal::SignalRecord;
use crate::text::html_escape;

/// How orders are handled, said plainly in every message: a trader must never mistake paper for live.
pub fn mode_line(mode: ExecutionMode) -> &'static str {
    match mode {
        ExecutionMode::Live => "💰 <b>LIVE</b> · real orders on Crypto.com",
        ExecutionMode::Paper => "🧪 <b>PAPER</b> · simulated orders, no real money",
        ExecutionMode::Blocked => "⏸ <b>ALERTS ONLY</b> · trading is off, no order is placed",
    }
}

fn intent_mode(intent: &OrderIntent) -> ExecutionMode {
    intent.mode
}

/// A price in its quote currency: `0.0921 BTC`.
fn price_text(symbol: &Symbol, price: Decimal) -> String {
    format!("{} {}", price.normalize(), quote_currency(symbol))
}

/// The candle's market time (its open, UTC): what the signal is about, not when a process wrote it.
fn candle_time(candle_open_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(candle_open_ms).map_or_else(
        || candle_open_ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// The mode line while trading is halted: no order is placed whatever the mode, and who halted it and why.
fn halted_line(mode: ExecutionMode, halt: &crate::risk::Halt) -> String {
    let mode = match mode {
        ExecutionMode::Live => "LIVE",
        ExecutionMode::Paper => "PAPER",
        ExecutionMode::Blocked => "ALERTS ONLY",
    };
    format!(
        "⛔ <b>HALTED</b> · {mode} trading stopped by {}: {} · no order is placed until /resume",
        html_escape(&halt.by),
        html_escape(&halt.reason)
    )
}

/// The BUY/SELL SIGNAL Telegram text (HTML), after the original's, in English, with the trading mode (HALTED while
/// `halt` says so), the price in the quote currency and the candle's market time.
pub fn signal_alert_text(
    s: &SignalRecord,
    change_pct: Option<f64>,
    reason: &str,
    (mode, halt): (ExecutionMode, Option<&crate::risk::Halt>),
    timeframe: &str,
) -> String {
    let (headline, emoji) = match s.side {
        Side::Buy => ("🟢 <b>BUY SIGNAL</b>", "📈"),
        Side::Sell => ("🔴 <b>SELL SIGNAL</b>", "📉"),
    };
    let change = match change_pct {
        None => "first alert".to_string(),
        Some(c) => format!("{} {:.2}%", if c >= 0.0 { "↑" } else { "↓" }, c.abs()),
    };
    let mut parts = s.strategy.splitn(2, '-');
    let title = |w: Option<&str>| {
        let w = w.unwrap_or_default();
        w.chars()
            .next()
            .map(|c| c.to_uppercase().collect::<String>() + &w[c.len_utf8()..])
            .unwrap_or_default()
    };
    let (strategy, approach) = (title(parts.next()), title(parts.next()));
    let trading = if s.trade_enabled {
        ""
    } else {
        "\n⏸ Trading is off for this symbol: alert only"
    };
    let mode = halt.map_or_else(|| mode_line(mode).to_string(), |h| halted_line(mode, h));
    format!(
        "{headline} · <b>{}</b>\n{mode}{trading}\n\n{emoji} Price: {}\n📊 Change since last alert: {change}\n✅ Reason: {}\n🎯 Strategy: <b>{strategy}</b> · {approach}\n🕒 Candle: {} ({timeframe})",
        s.symbol,
        price_text(&s.symbol, s.price),
        html_escape(reason),
        candle_time(s.candle_open_ms),
    )
}

/// The order's size as quantity, quote notional and USD value, with the rate it was converted at.
fn size_lines(intent: &OrderIntent) -> String {
    let Some(z) = &intent.sizing else {
        return String::new();
    };
    let quantity = z
        .quantity
        .map(|q| format!("{} {} · ", q.0.normalize(), base_currency(&intent.symbol)))
        .unwrap_or_default();
    format!(
        "\n📦 Size: {quantity}{} · ≈ {} USD\n💱 Rate: 1 {} = {} USD ({})",
        z.notional,
        z.usd_value.0.round_dp(2),
        z.quote_price.currency,
        z.quote_price.usd_per_unit.normalize(),
        html_escape(&z.quote_price.source),
    )
}

/// The ORDER PLACED Telegram text (HTML): the confirmation of an order the exchange accepted.
pub fn order_placed_text(intent: &OrderIntent, price: Decimal) -> String {
    format!(
        "✅ <b>ORDER PLACED</b> · <b>{}</b> {}\n{}\n\n🆔 Order: {}{}\n💵 Signal price: {}\n🕒 Candle: {}",
        intent.symbol,
        intent.side,
        mode_line(intent_mode(intent)),
        html_escape(intent.order_id.as_deref().unwrap_or("")),
        size_lines(intent),
        price_text(&intent.symbol, price),
        candle_time(intent.signal_id.candle_open_ms()),
    )
}

/// The ORDER EXECUTED Telegram text (HTML), one per fill increment: what filled now, at what price, its total in the
/// quote currency and ≈ USD at the order's recorded rate, its fee, and where the order stands.
pub fn order_executed_text(
    intent: &OrderIntent,
    fill: &crate::order::Fill,
    inc: &crate::order::fill::Increment,
) -> String {
    let (base, quote) = (base_currency(&intent.symbol), quote_currency(&intent.symbol));
    let total = inc.quantity.checked_mul(inc.price).unwrap_or_default();
    let usd = intent.sizing.as_ref().map_or_else(String::new, |z| {
        let rate = z.quote_price.usd_per_unit;
        format!(
            " ≈ {} USD (1 {quote} = {} USD, {})",
            total.checked_mul(rate).unwrap_or_default().round_dp(2),
            rate.normalize(),
            html_escape(&z.quote_price.source)
        )
    });
    format!(
        "✅ <b>ORDER EXECUTED</b> · <b>{}</b> {}\n{}\n\n🆔 Order: {}\n📦 Filled: {} {base} at {} {quote}\n💵 Total: {} {quote}{usd}\n💸 Fee: {} {}\n📊 Order: {} · {} {base} filled · avg {} {quote}\n🕒 Candle: {}",
        intent.symbol,
        intent.side,
        mode_line(intent_mode(intent)),
        html_escape(intent.order_id.as_deref().unwrap_or("")),
        inc.quantity.normalize(),
        inc.price.normalize(),
        total.normalize(),
        inc.fee.normalize(),
        html_escape(&fill.fee_currency),
        fill.status,
        fill.filled_quantity.normalize(),
        fill.average_price.normalize(),
        candle_time(intent.signal_id.candle_open_ms()),
    )
}

/// The distance of `price` from `from`, in percent with a sign (`-3 %`).
fn pct_from(price: Decimal, from: Decimal) -> String {
    price
        .checked_sub(from)
        .and_then(|d| d.checked_mul(Decimal::ONE_HUNDRED))
        .and_then(|d| d.checked_div(from))
        .map_or_else(|| "?".into(), |d| format!("{:+} %", d.round_dp(2).normalize()))
}

fn entry_price(intent: &OrderIntent) -> Decimal {
    intent.fill.as_ref().map_or(Decimal::ZERO, |f| f.average_price)
}

/// The SL/TP PLACED Telegram text (HTML): what is protected, the stop and take-profit prices and their distance.
pub fn protection_placed_text(intent: &OrderIntent, p: &crate::order::Protection) -> String {
    let (base, entry) = (base_currency(&intent.symbol), entry_price(intent));
    format!(
        "🛡 <b>SL/TP PLACED</b> · <b>{}</b>\n{}\n\n📦 Protected: {} {base} · entry avg {}\n🛑 Stop-loss: {} ({})\n🎯 Take-profit: {} ({})\n🆔 OCO: {}\n🕒 Candle: {}",
        intent.symbol,
        mode_line(intent_mode(intent)),
        p.quantity.normalize(),
        price_text(&intent.symbol, entry),
        price_text(&intent.symbol, p.stop_price),
        pct_from(p.stop_price, entry),
        price_text(&intent.symbol, p.take_profit_price),
        pct_from(p.take_profit_price, entry),
        html_escape(p.list_id.as_deref().unwrap_or("found by lookup")),
        candle_time(intent.signal_id.candle_open_ms()),
    )
}

/// The PROTECTION FAILED Telegram text (HTML): no stop could be placed; the position is being closed with a market
/// SELL, or (on_protection_failure = alert) is held with no stop.
pub fn protection_failed_text(intent: &OrderIntent, p: &crate::order::Protection) -> String {
    let base = base_currency(&intent.symbol);
    let (title, action) = if p.status == crate::order::ProtectionStatus::Flattening {
        (
            "PROTECTION FAILED — POSITION CLOSED",
            format!("📤 Closing it with a market SELL of {} {base}.", p.quantity.normalize()),
        )
    } else {
        (
            "PROTECTION FAILED — POSITION UNPROTECTED",
            format!(
                "⚠️ {} {base} held with no stop: act now (/positions).",
                p.quantity.normalize()
            ),
        )
    };
    format!(
        "🚨 <b>{title}</b> · <b>{}</b>\n{}\n\nNo stop on the exchange ({} send(s)): {}\n{action}\n🕒 Candle: {}",
        intent.symbol,
        mode_line(intent_mode(intent)),
        p.attempts,
        html_escape(p.last_error.as_deref().unwrap_or("")),
        candle_time(intent.signal_id.candle_open_ms()),
    )
}

/// The exit Telegram text (HTML): TAKE PROFIT HIT, STOP LOSS HIT or POSITION FLATTENED (the market SELL), with what was
/// sold and the realized P&L in the quote currency and ≈ USD at the entry's recorded rate.
pub fn protection_closed_text(intent: &OrderIntent, p: &crate::order::Protection) -> String {
    use crate::order::Leg;
    let (base, quote) = (base_currency(&intent.symbol), quote_currency(&intent.symbol));
    let by = p
        .fills
        .iter()
        .filter(|f| f.filled_quantity > Decimal::ZERO)
        .map(|f| f.leg)
        .next();
    let title = match by {
        Some(Leg::TakeProfit) => "🎯 <b>TAKE PROFIT HIT</b>",
        Some(Leg::StopLoss) => "🛑 <b>STOP LOSS HIT</b>",
        _ => "📤 <b>POSITION FLATTENED</b>",
    };
    let sold: Vec<String> = p
        .fills
        .iter()
        .filter(|f| f.filled_quantity > Decimal::ZERO)
        .map(|f| {
            format!(
                "{} {base} at {} {quote} ({})",
                f.filled_quantity.normalize(),
                f.average_price.normalize(),
                f.leg
            )
        })
        .collect();
    let pnl = crate::order::intent::realized_quote(intent, p);
    let usd = pnl.zip(intent.sizing.as_ref()).and_then(|(v, z)| {
        let usd = v.checked_mul(z.quote_price.usd_per_unit)?.round_dp(2);
        Some(format!(" ≈ {usd} USD"))
    });
    format!(
        "{title} · <b>{}</b>\n{}\n\n📦 Sold: {}\n💰 Realized P&amp;L: {}{}\n🕒 Entry candle: {}",
        intent.symbol,
        mode_line(intent_mode(intent)),
        sold.join(", "),
        pnl.map_or_else(
            || "unknown".into(),
            |v| format!("{} {quote}", v.round_dp(8).normalize())
        ),
        usd.unwrap_or_default(),
        candle_time(intent.signal_id.candle_open_ms()),
    )
}

/// The ORDER SKIPPED Telegram text (HTML) for an order held back after the signal was sent: a risk limit (which
/// one, what was left) or a SELL with no position to sell.
pub fn order_skipped_text(intent: &OrderIntent, code: ReasonCode, amount_usd: Option<Decimal>) -> String {
    let label = match code {
        ReasonCode::RiskLimitExceeded => "Risk limit",
        ReasonCode::TradingHalted => "Trading halted",
        _ => "Reason",
    };
    let amount = amount_usd.map_or_else(String::new, |a| format!("\n💵 Order: {} USD", a.normalize()));
    format!(
        "🛑 <b>ORDER SKIPPED</b> · <b>{}</b> {}\n{}\n\n🛑 {label}: {}\n📋 Reason code: {code}{amount}\n🕒 Candle: {}\n\n<i>The signal was sent but no order was placed.</i>",
        intent.symbol,
        intent.side,
        mode_line(intent_mode(intent)),
        html_escape(intent.error_message.as_deref().unwrap_or("")),
        candle_time(intent.signal_id.candle_open_ms()),
    )
}

/// The TRADING HALTED Telegram text (HTML): who stopped trading, why, and how to resume.
pub fn trading_halted_text(halt: &crate::risk::Halt) -> String {
    format!(
        "⛔ <b>TRADING HALTED</b>\n\nBy: {}\nReason: {}\nSince: {}\n\n<i>No order is placed until someone resumes trading (/resume, or ./scripts/trading.sh resume).</i>",
        html_escape(&halt.by),
        html_escape(&halt.reason),
        halt.at.format("%Y-%m-%d %H:%M:%S UTC"),
    )
}

/// The ORDER FAILED Telegram text (HTML): what failed, why, and what the order would have been.
pub fn order_failed_text(intent: &OrderIntent, code: ReasonCode) -> String {
    format!(
        "❌ <b>ORDER FAILED</b> · <b>{}</b> {}\n{}\n\n❌ Error: {}\n📋 Reason code: {}{}\n🕒 Candle: {}\n\n<i>The signal was sent but no order was placed.</i>",
        intent.symbol,
        intent.side,
        mode_line(intent_mode(intent)),
        html_escape(intent.error_message.as_deref().unwrap_or("")),
        code,
        size_lines(intent),
        candle_time(intent.signal_id.candle_open_ms()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Quantity, QuoteAmount, Sizing, Usd, UsdPrice};
    use crate::order::IntentStatus;

    fn signal() -> SignalRecord {
        let sym = Symbol::parse("ETH_BTC").unwrap();
        // Written long after the candle (a replay): the alert must show the candle's time, not this one.
        let now = chrono::Utc::now();
        crate::fakes::sent_signal(&sym, Side::Sell, 1_516_579_200_000, Decimal::new(921, 4), now)
    }

    fn placed_intent(mode: ExecutionMode) -> OrderIntent {
        let s = signal();
        let now = chrono::Utc::now();
        OrderIntent {
            mode,
            order_id: Some("42".into()),
            lease_until_ms: 0,
            sizing: Some(Sizing {
                amount: Usd(Decimal::from(100)),
                quote_price: UsdPrice {
                    currency: "BTC".into(),
                    usd_per_unit: Decimal::from(12_000),
                    source: "config:PAPER_USD_PRICES".into(),
                },
                notional: QuoteAmount {
                    amount: Decimal::new(833333, 8),
                    currency: "BTC".into(),
                },
                quantity: Some(Quantity(Decimal::new(9048, 5))),
                usd_value: Usd(Decimal::new(9999, 2)),
                price: Decimal::new(921, 4),
            }),
            ..crate::fakes::intent(&s, IntentStatus::OrderPlaced, now, now)
        }
    }

    #[test]
    fn signal_alerts_say_the_mode_the_quote_currency_and_the_candle_time_in_english() {
        let s = signal();
        let paper = signal_alert_text(
            &s,
            Some(-2.5),
            "RSI>68 & <reversal>",
            (ExecutionMode::Paper, None),
            "1h",
        );
        assert!(paper.starts_with("🔴 <b>SELL SIGNAL</b> · <b>ETH_BTC</b>"), "{paper}");
        assert!(paper.contains("<b>PAPER</b>") && !paper.contains("LIVE"), "{paper}");
        assert!(paper.contains("Price: 0.0921 BTC"), "{paper}");
        assert!(paper.contains("Change since last alert: ↓ 2.50%"), "{paper}");
        assert!(paper.contains("Candle: 2018-01-22 00:00 UTC (1h)"), "{paper}");
        assert!(paper.contains("RSI&gt;68 &amp; &lt;reversal&gt;"), "escaped: {paper}");
        assert!(
            !paper.contains("Cambio") && !paper.contains("Primera"),
            "one language: {paper}"
        );
        let live = signal_alert_text(&s, None, "r", (ExecutionMode::Live, None), "1h");
        assert!(live.contains("<b>LIVE</b>") && live.contains("first alert"), "{live}");
        let mut off = s.clone();
        off.trade_enabled = false;
        let off = signal_alert_text(&off, None, "r", (ExecutionMode::Live, None), "1h");
        assert!(off.contains("Trading is off for this symbol"), "{off}");
        let halt = crate::risk::Halt {
            announced: false,
            reason: "exchange <maintenance>".into(),
            by: "@ops".into(),
            at: chrono::Utc::now(),
        };
        let halted = signal_alert_text(&s, None, "r", (ExecutionMode::Live, Some(&halt)), "1h");
        assert!(
            halted.contains("⛔ <b>HALTED</b> · LIVE trading stopped by @ops: exchange &lt;maintenance&gt;"),
            "{halted}"
        );
        assert!(
            !halted.contains("real orders"),
            "never says LIVE orders while halted: {halted}"
        );
    }

    #[test]
    fn order_messages_give_the_size_as_quantity_notional_and_usd() {
        let placed = order_placed_text(&placed_intent(ExecutionMode::Paper), Decimal::new(921, 4));
        assert!(
            placed.starts_with("✅ <b>ORDER PLACED</b> · <b>ETH_BTC</b> SELL"),
            "{placed}"
        );
        assert!(placed.contains("<b>PAPER</b>") && !placed.contains("LIVE"), "{placed}");
        assert!(
            placed.contains("Size: 0.09048 ETH · 0.00833333 BTC · ≈ 99.99 USD"),
            "{placed}"
        );
        assert!(
            placed.contains("Rate: 1 BTC = 12000 USD (config:PAPER_USD_PRICES)"),
            "{placed}"
        );
        assert!(placed.contains("Signal price: 0.0921 BTC"), "{placed}");
        assert!(placed.contains("Candle: 2018-01-22 00:00 UTC"), "{placed}");
        let mut failed = placed_intent(ExecutionMode::Live);
        failed.status = IntentStatus::OrderFailed;
        failed.error_message = Some("order value 0.5 USD is below the minimum 1 USD".into());
        let text = order_failed_text(&failed, ReasonCode::MinNotionalNotMet);
        assert!(
            text.starts_with("❌ <b>ORDER FAILED</b> · <b>ETH_BTC</b> SELL"),
            "{text}"
        );
        assert!(
            text.contains("<b>LIVE</b>") && text.contains("MIN_NOTIONAL_NOT_MET"),
            "{text}"
        );
        assert!(
            text.contains("below the minimum 1 USD") && text.contains("≈ 99.99 USD"),
            "{text}"
        );
    }
}
