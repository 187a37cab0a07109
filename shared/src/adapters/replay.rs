//! Replay market data: real candles from files in the row format `[[open_time_ms, o, h, l, c, v], ...]`, resampled
//! to the requested timeframe, served "as of" a market time so a simulated clock can step through history.
//!
//! The symbol comes from the file name: everything before the first `-` (`ETH_BTC-5m.json` → `ETH_BTC`). The
//! project ships a few real series (see `data/candles/README.md`); with the `embedded-candles` cargo feature they are
//! compiled in as the default source (the local stack, the demo and the tests). The Lambda build leaves them out: a
//! deployed evaluator reads Crypto.com, or a folder (`REPLAY_DIR`).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::ids::Symbol;
use crate::market::candles::{parse_rows, resample, Candle, Timeframe};
use crate::ports::{MarketData, MarketDataError};

/// The shipped series, embedded so that a local run needs no files at run time.
#[cfg(feature = "embedded-candles")]
const EMBEDDED: &[(&str, &str)] = &[
    ("ETH_BTC-5m.json", include_str!("../../../data/candles/ETH_BTC-5m.json")),
    ("XRP_ETH-1m.json", include_str!("../../../data/candles/XRP_ETH-1m.json")),
    (
        "XRP_USDT-5m.json",
        include_str!("../../../data/candles/XRP_USDT-5m.json"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("replay folder {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("replay file {file}: {reason}")]
    File { file: String, reason: String },
    #[error("replay source has no candle files")]
    Empty,
    #[error(
        "this build leaves the shipped candles out (cargo feature `embedded-candles`): set REPLAY_DIR to a folder \
         of candle files, or MARKET_DATA=crypto_com"
    )]
    NotEmbedded,
}

struct Series {
    candles: Vec<Candle>,
    /// Smallest step between source candles: the finest timeframe this series can serve.
    interval_ms: i64,
}

/// Resampled series by symbol and timeframe, computed on first use.
type ResampleCache = HashMap<(Symbol, Timeframe), Arc<Vec<Candle>>>;

/// The symbol a candle file holds: its name before the first `-` (`ETH_BTC-5m.json` → `ETH_BTC`).
pub fn symbol_of_file(file_name: &str) -> Result<Symbol, crate::ids::IdError> {
    let name = std::path::Path::new(file_name)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    Symbol::parse(name.split('-').next().unwrap_or_default().trim_end_matches(".json"))
}

pub struct ReplayMarketData {
    series: HashMap<Symbol, Series>,
    resampled: Mutex<ResampleCache>,
}

impl ReplayMarketData {
    /// The shipped series, when this build has them (the `embedded-candles` feature).
    pub fn embedded() -> Result<Self, ReplayError> {
        #[cfg(feature = "embedded-candles")]
        return Self::from_files(EMBEDDED.iter().map(|(n, c)| (n.to_string(), c.to_string())));
        #[cfg(not(feature = "embedded-candles"))]
        Err(ReplayError::NotEmbedded)
    }

    /// Every `*.json` file of `dir` (other files, such as the origin note, are ignored).
    pub fn from_dir(dir: &Path) -> Result<Self, ReplayError> {
        let io = |source| ReplayError::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == "json") && path.is_file() {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                files.push((name, std::fs::read_to_string(&path).map_err(io)?));
            }
        }
        Self::from_files(files)
    }

    fn from_files(files: impl IntoIterator<Item = (String, String)>) -> Result<Self, ReplayError> {
        let mut files: Vec<(String, String)> = files.into_iter().collect();
        files.sort();
        let mut series = HashMap::new();
        for (name, content) in files {
            let file_err = |reason: String| ReplayError::File {
                file: name.clone(),
                reason,
            };
            let symbol = symbol_of_file(&name).map_err(|e| file_err(e.to_string()))?;
            let candles = parse_rows(&content).map_err(|e| file_err(e.to_string()))?;
            let interval_ms = crate::market::candles::finest_step_ms(&candles).unwrap_or(60_000);
            if series.contains_key(&symbol) {
                tracing::warn!(file = %name, %symbol, "another file already provides this symbol; ignored");
                continue;
            }
            series.insert(symbol, Series { candles, interval_ms });
        }
        if series.is_empty() {
            return Err(ReplayError::Empty);
        }
        Ok(Self {
            series,
            resampled: Mutex::new(HashMap::new()),
        })
    }

    pub fn symbols(&self) -> Vec<Symbol> {
        let mut v: Vec<Symbol> = self.series.keys().cloned().collect();
        v.sort();
        v
    }

    /// The symbols whose files are coarser than `tf` (they cannot serve it), with their step in ms.
    pub fn coarser_than(&self, tf: Timeframe) -> Vec<(Symbol, i64)> {
        let mut v: Vec<(Symbol, i64)> = self
            .series
            .iter()
            .filter(|(_, s)| s.interval_ms > tf.millis())
            .map(|(sym, s)| (sym.clone(), s.interval_ms))
            .collect();
        v.sort();
        v
    }

    /// Every instant at which some series closes a `tf` candle, ascending: the steps of a replay.
    pub fn close_times(&self, tf: Timeframe) -> Vec<i64> {
        let mut set = BTreeSet::new();
        for s in self.series.values() {
            for c in resample(&s.candles, tf) {
                set.insert(c.open_ms + tf.millis());
            }
        }
        set.into_iter().collect()
    }

    fn resampled(&self, symbol: &Symbol, tf: Timeframe) -> Result<Arc<Vec<Candle>>, MarketDataError> {
        let series = self
            .series
            .get(symbol)
            .ok_or_else(|| MarketDataError::UnknownSymbol(symbol.clone()))?;
        if tf.millis() < series.interval_ms {
            return Err(MarketDataError::Malformed {
                symbol: symbol.clone(),
                reason: format!(
                    "timeframe {} is finer than the replay data ({} ms)",
                    tf.as_str(),
                    series.interval_ms
                ),
            });
        }
        let mut cache = self.resampled.lock().unwrap_or_else(|e| e.into_inner());
        Ok(cache
            .entry((symbol.clone(), tf))
            .or_insert_with(|| Arc::new(resample(&series.candles, tf)))
            .clone())
    }
}

#[async_trait]
impl MarketData for ReplayMarketData {
    async fn closed_candles(
        &self,
        symbol: &Symbol,
        tf: Timeframe,
        count: usize,
        as_of_ms: i64,
    ) -> Result<Vec<Candle>, MarketDataError> {
        let all = self.resampled(symbol, tf)?;
        let end = all.partition_point(|c| c.open_ms + tf.millis() <= as_of_ms);
        Ok(all[end.saturating_sub(count)..end].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "embedded-candles")]
    #[tokio::test]
    async fn embedded_series_serve_only_closed_candles() {
        let r = ReplayMarketData::embedded().unwrap();
        assert_eq!(
            r.symbols().iter().map(Symbol::as_str).collect::<Vec<_>>(),
            ["ETH_BTC", "XRP_ETH", "XRP_USDT"]
        );
        let sym = Symbol::parse("ETH_BTC").unwrap();
        let times = r.close_times(Timeframe::H1);
        let t = times[300];
        let c = r.closed_candles(&sym, Timeframe::H1, 200, t).await.unwrap();
        assert_eq!(c.len(), 200);
        assert!(c.iter().all(|c| c.open_ms + Timeframe::H1.millis() <= t));
        assert_eq!(c.last().unwrap().open_ms + Timeframe::H1.millis(), t);
        assert!(r.closed_candles(&sym, Timeframe::H1, 200, 0).await.unwrap().is_empty());
        assert!(r.closed_candles(&sym, Timeframe::M1, 10, t).await.is_err());
        let unknown = Symbol::parse("DOGE_USDT").unwrap();
        assert!(matches!(
            r.closed_candles(&unknown, Timeframe::H1, 1, t).await,
            Err(MarketDataError::UnknownSymbol(_))
        ));
    }

    #[cfg(not(feature = "embedded-candles"))]
    #[test]
    fn a_build_without_the_candles_says_how_to_replay() {
        let err = ReplayMarketData::embedded().err().unwrap().to_string();
        assert!(err.contains("REPLAY_DIR") && err.contains("embedded-candles"), "{err}");
    }

    #[tokio::test]
    async fn an_hourly_file_cannot_serve_the_volume_gate_and_says_so() {
        let row = |h: i64| format!("[{}, 1, 1, 1, 1, 5]", h * 3_600_000);
        let hourly = format!("[{}]", (0..30).map(row).collect::<Vec<_>>().join(","));
        let five = "[[0, 1, 1, 1, 1, 5], [300000, 1, 1, 1, 1, 5]]".to_string();
        let r = ReplayMarketData::from_files([
            ("ADA_USDT-1h.json".to_string(), hourly),
            ("ETH_USDT-5m.json".to_string(), five),
        ])
        .unwrap();
        let ada = Symbol::parse("ADA_USDT").unwrap();
        assert_eq!(r.coarser_than(Timeframe::M5), [(ada.clone(), 3_600_000)]);
        assert!(r.closed_candles(&ada, Timeframe::M5, 11, 7_200_000).await.is_err());
        assert_eq!(
            r.closed_candles(&ada, Timeframe::H1, 5, 7_200_000).await.unwrap().len(),
            2
        );
    }

    #[test]
    fn a_bad_file_is_refused_with_its_name() {
        let err = ReplayMarketData::from_files([("BTC_USDT-1m.json".to_string(), "[[1, 2]]".to_string())])
            .err()
            .unwrap();
        assert!(err.to_string().contains("BTC_USDT-1m.json"));
    }
}
