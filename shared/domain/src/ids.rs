//! Identifiers of docs/DESIGN.md §2 as types that refuse bad values at construction.
//!
//! Everything that crosses a boundary (SQS body, query string, table item, exchange JSON) is parsed into these types
//! once; code past the edge can rely on them being well formed. Derivations are deterministic so that replays,
//! overlapping schedules and redeliveries always land on the same keys.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("symbol {0:?} is not of the form BASE_QUOTE with letters and digits")]
    Symbol(String),
    #[error("side {0:?} is neither BUY nor SELL")]
    Side(String),
    #[error("signal_id {0:?} is not SYMBOL:SIDE:candle_open_ms")]
    SignalId(String),
    #[error("idempotency_key {0:?} is not v1:signal:{{signal_id}}:side:{{SIDE}}")]
    IdempotencyKey(String),
    #[error("client_oid {0:?} must be 1..=36 characters of [A-Za-z0-9_-]")]
    ClientOid(String),
}

/// An exchange instrument name in Crypto.com form: upper case, `_` between base and quote (`BTC_USDT`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

impl Symbol {
    /// Normalizes like the original (`btc/usdt`, `BTC-USDT`, ` btc_usdt ` → `BTC_USDT`) and validates the result.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let mut s: String = raw
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '/' | '-' => '_',
                c => c.to_ascii_uppercase(),
            })
            .collect();
        while s.contains("__") {
            s = s.replace("__", "_");
        }
        let parts: Vec<&str> = s.split('_').collect();
        let ok = parts.len() >= 2
            && s.len() <= 40
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        if ok {
            Ok(Self(s))
        } else {
            Err(IdError::Symbol(raw.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Symbol {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Symbol> for String {
    fn from(value: Symbol) -> Self {
        value.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Order side. Parsing accepts any case (`buy`, `Sell`); the wire form is upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "BUY" => Ok(Side::Buy),
            "SELL" => Ok(Side::Sell),
            _ => Err(IdError::Side(raw.to_string())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

impl TryFrom<String> for Side {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Side> for String {
    fn from(value: Side) -> Self {
        value.as_str().to_string()
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{SYMBOL}:{SIDE}:{candle_open_ms}` — the same candle evaluated twice yields the same id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SignalId {
    raw: String,
    symbol: Symbol,
    side: Side,
    candle_open_ms: i64,
}

impl SignalId {
    pub fn new(symbol: &Symbol, side: Side, candle_open_ms: i64) -> Self {
        Self {
            raw: format!("{}:{}:{}", symbol, side, candle_open_ms),
            symbol: symbol.clone(),
            side,
            candle_open_ms,
        }
    }

    /// Accepts only the canonical form (so `btc_usdt:buy:1` is refused rather than silently renamed).
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let err = || IdError::SignalId(raw.to_string());
        let mut parts = raw.split(':');
        let (Some(sym), Some(side), Some(ms), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(err());
        };
        let symbol = Symbol::parse(sym).map_err(|_| err())?;
        let side = Side::parse(side).map_err(|_| err())?;
        let candle_open_ms: i64 = ms.parse().map_err(|_| err())?;
        let id = Self::new(&symbol, side, candle_open_ms);
        if id.raw == raw && candle_open_ms >= 0 {
            Ok(id)
        } else {
            Err(err())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
    pub fn symbol(&self) -> &Symbol {
        &self.symbol
    }
    pub fn side(&self) -> Side {
        self.side
    }
    pub fn candle_open_ms(&self) -> i64 {
        self.candle_open_ms
    }
}

impl TryFrom<String> for SignalId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SignalId> for String {
    fn from(value: SignalId) -> Self {
        value.raw
    }
}

impl fmt::Display for SignalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// `v1:signal:{signal_id}:side:{SIDE}` — one order intent per key, forever.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn for_signal(signal_id: &SignalId) -> Self {
        Self(format!("v1:signal:{}:side:{}", signal_id, signal_id.side()))
    }

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let err = || IdError::IdempotencyKey(raw.to_string());
        let rest = raw.strip_prefix("v1:signal:").ok_or_else(err)?;
        let (signal, side) = rest.rsplit_once(":side:").ok_or_else(err)?;
        let signal_id = SignalId::parse(signal).map_err(|_| err())?;
        let key = Self::for_signal(&signal_id);
        if key.0 == raw && side == signal_id.side().as_str() {
            Ok(key)
        } else {
            Err(err())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The client order id sent to the exchange for this key (see [`ClientOid::derive`]).
    pub fn client_oid(&self) -> ClientOid {
        ClientOid::derive(self)
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<IdempotencyKey> for String {
    fn from(value: IdempotencyKey) -> Self {
        value.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Crypto.com `client_oid`: at most 36 characters; we keep to `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientOid(String);

impl ClientOid {
    /// Exchange limit on `client_oid` length (reference: Crypto.com Exchange v1 `private/create-order`).
    pub const MAX_LEN: usize = 36;
    const PREFIX: &'static str = "so1-";

    /// `so1-` + the first 32 hex digits (128 bits) of SHA-256(idempotency_key): 36 characters, stable forever.
    pub fn derive(key: &IdempotencyKey) -> Self {
        Self::derive_from(key.as_str())
    }

    /// `so1-` + the first 32 hex digits of SHA-256(`seed`): the form of every order this system places (an entry's
    /// from its key, a protective leg's from its key and the leg).
    pub(crate) fn derive_from(seed: &str) -> Self {
        let digest = Sha256::digest(seed.as_bytes());
        let mut s = String::with_capacity(Self::MAX_LEN);
        s.push_str(Self::PREFIX);
        s.push_str(&hex::encode(digest)[..Self::MAX_LEN - Self::PREFIX.len()]);
        Self(s)
    }

    /// Whether `raw` has the form this system gives its orders (`so1-` + 32 lower-case hex digits): an open order
    /// of that form that matches no intent is a ghost (docs/DESIGN.md §13).
    pub fn is_system_form(raw: &str) -> bool {
        raw.len() == Self::MAX_LEN
            && raw.starts_with(Self::PREFIX)
            && raw[Self::PREFIX.len()..]
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    }

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let ok = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(IdError::ClientOid(raw.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientOid {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ClientOid> for String {
    fn from(value: ClientOid) -> Self {
        value.0
    }
}

impl fmt::Display for ClientOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn symbols_are_normalized_to_exchange_form() {
        assert_eq!(Symbol::parse("btc/usdt").unwrap().as_str(), "BTC_USDT");
        assert_eq!(Symbol::parse(" eth-btc ").unwrap().as_str(), "ETH_BTC");
        assert_eq!(Symbol::parse("XRP__USDT").unwrap().as_str(), "XRP_USDT");
        for bad in ["", "BTC", "BTC_", "_USDT", "BTC_US$T", "BTC:USDT"] {
            assert!(Symbol::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn side_accepts_any_case_only_for_buy_and_sell() {
        assert_eq!(Side::parse("buy").unwrap(), Side::Buy);
        assert_eq!(Side::parse("Sell").unwrap(), Side::Sell);
        assert!(Side::parse("hold").is_err());
    }

    #[test]
    fn design_example_round_trips() {
        let id = SignalId::parse("BTC_USDT:BUY:1732579200000").unwrap();
        assert_eq!(id.symbol().as_str(), "BTC_USDT");
        assert_eq!(id.candle_open_ms(), 1732579200000);
        let key = IdempotencyKey::for_signal(&id);
        assert_eq!(key.as_str(), "v1:signal:BTC_USDT:BUY:1732579200000:side:BUY");
        assert_eq!(IdempotencyKey::parse(key.as_str()).unwrap(), key);
        assert!(SignalId::parse("btc_usdt:BUY:1").is_err());
        assert!(IdempotencyKey::parse("v1:signal:BTC_USDT:BUY:1:side:SELL").is_err());
        assert!(IdempotencyKey::parse("signal:BTC_USDT:BUY:1:side:BUY").is_err());
    }

    proptest! {
        #[test]
        fn client_oid_is_valid_deterministic_and_distinct(ms in 0i64..4_102_444_800_000, other in 0i64..4_102_444_800_000, buy: bool) {
            let sym = Symbol::parse("ETH_BTC").unwrap();
            let side = if buy { Side::Buy } else { Side::Sell };
            let key = IdempotencyKey::for_signal(&SignalId::new(&sym, side, ms));
            let oid = key.client_oid();
            prop_assert_eq!(oid.as_str().len(), ClientOid::MAX_LEN);
            prop_assert!(ClientOid::parse(oid.as_str()).is_ok());
            prop_assert_eq!(&oid, &key.client_oid());
            let key2 = IdempotencyKey::for_signal(&SignalId::new(&sym, side, other));
            prop_assert_eq!(ms == other, oid == key2.client_oid());
            prop_assert_eq!(IdempotencyKey::parse(key.as_str()).unwrap(), key.clone());
        }
    }
}
