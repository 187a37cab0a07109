//! Crypto.com Exchange v1 `public/get-candlestick` as the evaluator's market data: GET with `instrument_name`,
//! `timeframe` and `count` (≤ 300); o/h/l/c/v may come as strings or numbers; rows are sorted by `t` (the candle's
//! open time) and a candle still open at `as_of` is dropped. A bad reply is a `Malformed` error for that symbol only.

use std::time::Duration;

use crate::adapters::http::{self, ClientError};
use crate::adapters::rate::{Budget, Pace, RateLimiter};

use async_trait::async_trait;
use serde_json::Value;

use crate::ids::Symbol;
use crate::market::candles::{Candle, Timeframe};
use crate::ports::{MarketData, MarketDataError};

/// The exchange serves at most this many candles per call.
pub const MAX_COUNT: usize = 300;

/// The exchange's public market-data limit: 100 requests per second per IP and method. The default budget stays
/// below it (the exchange counts arrivals, this process counts sends).
pub const PUBLIC_LIMIT: Budget = Budget::per_second(100);
pub const DEFAULT_BUDGET: Budget = Budget::per_second(95);

pub struct CryptoComCandles {
    http: reqwest::Client,
    base_url: String,
    limiter: RateLimiter,
}

impl CryptoComCandles {
    /// The candle source at the [`DEFAULT_BUDGET`].
    pub fn new(base_url: String, timeout: Duration) -> Result<Self, ClientError> {
        Self::with_budget(base_url, timeout, DEFAULT_BUDGET)
    }

    /// The candle source sending at most `budget` (this process's share of the public limit).
    pub fn with_budget(base_url: String, timeout: Duration, budget: Budget) -> Result<Self, ClientError> {
        Ok(Self {
            http: http::client(timeout)?,
            base_url,
            limiter: RateLimiter::new(budget, Pace::Spaced),
        })
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn candle(row: &Value) -> Option<Candle> {
    let c = Candle {
        open_ms: row.get("t").and_then(number)? as i64,
        open: number(row.get("o")?)?,
        high: number(row.get("h")?)?,
        low: number(row.get("l")?)?,
        close: number(row.get("c")?)?,
        volume: number(row.get("v")?)?,
    };
    let finite = [c.open, c.high, c.low, c.close, c.volume]
        .iter()
        .all(|x| x.is_finite() && *x >= 0.0);
    (finite && c.close > 0.0).then_some(c)
}

#[async_trait]
impl MarketData for CryptoComCandles {
    async fn closed_candles(
        &self,
        symbol: &Symbol,
        tf: Timeframe,
        count: usize,
        as_of_ms: i64,
    ) -> Result<Vec<Candle>, MarketDataError> {
        let bad = |reason: String| MarketDataError::Malformed {
            symbol: symbol.clone(),
            reason,
        };
        // One extra: the newest row is usually the still-open candle.
        let asked = (count + 1).min(MAX_COUNT);
        let mut limited = 0;
        loop {
            let (status, body) = self.get(symbol, tf, asked).await.map_err(&bad)?;
            // Over the limit after all (the exchange counts arrivals, not sends): nothing was served, so ask again
            // once the window has moved on, at most RATE_LIMIT_RETRIES times; then the symbol fails this run.
            if status == 429 && limited < RATE_LIMIT_RETRIES {
                limited += 1;
                tracing::warn!(%symbol, attempt = limited, "get-candlestick rate limited; asking again");
                tokio::time::sleep(self.limiter.budget().window / 4).await;
                continue;
            }
            return parse_candlestick(status, &body, tf, count, as_of_ms).map_err(bad);
        }
    }
}

/// How many times a rate-limited candle request is asked again.
const RATE_LIMIT_RETRIES: u32 = 2;

impl CryptoComCandles {
    /// One get-candlestick within the budget: its status and body.
    async fn get(&self, symbol: &Symbol, tf: Timeframe, asked: usize) -> Result<(u16, Vec<u8>), String> {
        let url = format!("{}/public/get-candlestick", self.base_url.trim_end_matches('/'));
        self.limiter.acquire().await;
        let resp = self
            .http
            .get(url)
            .query(&[
                ("instrument_name", symbol.as_str()),
                ("timeframe", tf.as_str()),
                ("count", &asked.to_string()),
            ])
            .send()
            .await
            .map_err(|e| {
                format!(
                    "get-candlestick: {}",
                    if e.is_timeout() { "timeout" } else { "transport error" }
                )
            })?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|_| format!("get-candlestick: HTTP {status}, body unreadable"))?;
        Ok((status, body.to_vec()))
    }
}

/// A get-candlestick answer: up to `count` candles of `tf` closed at or before `as_of_ms`, oldest first. Any
/// malformed part is an error in words, never a panic (fuzzed: `fuzz/fuzz_targets/candlestick.rs`).
pub fn parse_candlestick(
    status: u16,
    body: &[u8],
    tf: Timeframe,
    count: usize,
    as_of_ms: i64,
) -> Result<Vec<Candle>, String> {
    let body: Value =
        serde_json::from_slice(body).map_err(|_| format!("get-candlestick: HTTP {status}, body is not JSON"))?;
    let code = body.get("code").and_then(number).unwrap_or(-1.0);
    if status != 200 || code != 0.0 {
        return Err(format!("get-candlestick: HTTP {status} code {code}"));
    }
    let rows = body
        .pointer("/result/data")
        .and_then(Value::as_array)
        .ok_or_else(|| "get-candlestick: no result.data".to_string())?;
    let mut candles = Vec::with_capacity(rows.len());
    for row in rows {
        candles.push(candle(row).ok_or_else(|| format!("unusable candle {row}"))?);
    }
    candles.sort_by_key(|c| c.open_ms);
    candles.dedup_by_key(|c| c.open_ms);
    candles.retain(|c| c.open_ms.saturating_add(tf.millis()) <= as_of_ms);
    let skip = candles.len().saturating_sub(count);
    Ok(candles.split_off(skip))
}
