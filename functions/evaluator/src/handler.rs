//! Evaluator: on each schedule tick, for every watchlist symbol, read the closed candles as of market time,
//! compute the indicators, apply the symbol's preset, record a signal with a conditional put (one row per
//! symbol/side/candle, so overlapping runs cannot double it) and enqueue every sent signal for the orchestrator.

use std::time::Instant;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use shared::decision::ReasonCode;
use shared::flow::deliver::deliver;
use shared::ids::{SignalId, Symbol};
use shared::market::candles::{Candle, Timeframe};
use shared::market::indicators::{Indicators, VOLUME_CANDLES};
use shared::market::strategy::{self, Emission, Preset, Verdict};
use shared::order::ExecutionMode;
use shared::outbox::{AlertKind, AlertRecord, AlertStatus};
use shared::ports::{Clock, MarketData, Notifier, PutOutcome, SignalQueue, Store, StoreError, Stores};
use shared::signal::{BlockedReason, SignalMessage, SignalRecord};
use shared::watchlist::WatchlistEntry;

pub struct Evaluator<'a> {
    /// The watchlist, the signals, the outbox and the control row.
    pub stores: Stores<'a>,
    pub queue: &'a dyn SignalQueue,
    pub market: &'a dyn MarketData,
    pub clock: &'a dyn Clock,
    pub notifier: &'a dyn Notifier,
    pub timeframe: Timeframe,
    pub candle_count: usize,
    pub concurrency: usize,
    /// How long an emission claim belongs to the run that took it: the function's timeout (docs/DESIGN.md §10).
    pub claim_lease_ms: i64,
    /// How the orchestrator handles orders (LIVE_TRADING / PAPER_TRADING): said plainly in every signal alert.
    pub mode: ExecutionMode,
    /// Whether the control row is read once per run, so the alerts say HALTED while trading is halted.
    pub read_control: bool,
    /// No symbol is started after this (the invocation's deadline less the time the enqueue and the alerts need):
    /// the rest are MISSED — each logged by name and counted (`EvaluatorMissed`, alarmed), never cut off silently
    /// by the function's timeout. None: no deadline.
    pub deadline: Option<Instant>,
}

/// One run's result: the structured summary logged once and returned as the invocation's response.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct RunSummary {
    pub market_time_ms: i64,
    pub symbols: usize,
    pub evaluated: usize,
    pub signals: usize,
    pub blocked: usize,
    pub enqueued: usize,
    pub alerts_sent: usize,
    pub alerts_failed: usize,
    pub errors: usize,
    /// Symbols not started before the run's deadline.
    pub missed: usize,
    pub duration_ms: u128,
}

impl RunSummary {
    /// The run as one CloudWatch Embedded Metric Format document (namespace `namespace`, no dimensions): signals
    /// sent and held back, BUY/SELL SIGNAL alerts that could not be delivered, and the run's errors — every run,
    /// zeros included, so the alarms on them see data.
    pub fn emf(&self, namespace: &str, timestamp_ms: i64) -> serde_json::Value {
        shared::report::metrics::emf(
            namespace,
            timestamp_ms,
            &[
                ("EvaluatorSignals", self.signals),
                ("EvaluatorBlocked", self.blocked),
                ("SignalAlertFailures", self.alerts_failed),
                ("EvaluatorErrors", self.errors),
                ("EvaluatorMissed", self.missed),
            ],
        )
    }
}

/// What a run keeps back from the invocation's deadline for the enqueue and the alerts after the last symbol.
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The instant no symbol is started after: the invocation's deadline (`deadline_ms`, epoch milliseconds, as Lambda
/// gives it) less [`DEADLINE_MARGIN`], counted from `now_ms`.
pub fn run_deadline(deadline_ms: u64, now_ms: i64) -> Instant {
    let left = i64::try_from(deadline_ms).unwrap_or(i64::MAX).saturating_sub(now_ms);
    let left = std::time::Duration::from_millis(u64::try_from(left).unwrap_or(0));
    Instant::now() + left.saturating_sub(DEADLINE_MARGIN)
}

enum Step {
    /// Not enough history yet (replay before the series starts, or a young listing).
    NoHistory,
    Wait,
    /// A signal row was created (with the alert to send), or found without a decision (a crash after the put,
    /// before the send: enqueue again, no second alert).
    Sent(Box<SignalRecord>, Option<String>),
    Blocked,
    /// Already recorded and handled.
    Known,
    Error,
    /// Not started: the run's deadline had passed.
    Missed,
}

impl<'a> Evaluator<'a> {
    /// The evaluator over one store (watchlist, signals and alerts) with the settings the tests and the tools start
    /// from — hourly candles, 200 of them, one symbol at a time, a 60 s emission lease, paper mode — changing what
    /// they vary with struct update syntax (`Evaluator { concurrency: 4, ..Evaluator::over(…) }`).
    /// The functions build theirs from the configuration (`wiring.rs`).
    pub fn over<S: Store>(
        store: &'a S,
        queue: &'a dyn SignalQueue,
        market: &'a dyn MarketData,
        clock: &'a dyn Clock,
        notifier: &'a dyn Notifier,
    ) -> Self {
        Evaluator {
            stores: Stores::of(store),
            read_control: false,
            queue,
            market,
            clock,
            notifier,
            timeframe: Timeframe::H1,
            candle_count: 200,
            concurrency: 1,
            claim_lease_ms: 60_000,
            mode: ExecutionMode::Paper,
            deadline: None,
        }
    }
}

impl Evaluator<'_> {
    pub async fn run(&self) -> Result<RunSummary, StoreError> {
        let started = Instant::now();
        let market_time_ms = self.clock.market_now_ms();
        let entries = self.stores.watchlist.list().await?;
        let halt = self.halt().await;
        let steps: Vec<Step> = stream::iter(entries.iter())
            .map(|e| self.evaluate_in_time(e, market_time_ms, halt.as_ref()))
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;

        let mut summary = RunSummary {
            market_time_ms,
            symbols: entries.len(),
            ..RunSummary::default()
        };
        let mut to_send: Vec<SignalMessage> = Vec::new();
        let mut to_alert: Vec<(Box<SignalRecord>, String)> = Vec::new();
        for step in steps {
            match step {
                Step::NoHistory => {}
                Step::Wait | Step::Known => summary.evaluated += 1,
                Step::Blocked => {
                    summary.evaluated += 1;
                    summary.blocked += 1;
                }
                Step::Sent(s, alert) => {
                    summary.evaluated += 1;
                    summary.signals += 1;
                    to_send.push(s.to_message());
                    if let Some(text) = alert {
                        to_alert.push((s, text));
                    }
                }
                Step::Error => summary.errors += 1,
                Step::Missed => summary.missed += 1,
            }
        }
        self.enqueue(&to_send, &mut summary).await;
        // Alerts after the enqueue: a Telegram outage never delays or stops a trade.
        self.send_alerts(to_alert, &mut summary).await;
        summary.duration_ms = started.elapsed().as_millis();
        tracing::info!(
            market_time_ms,
            symbols = summary.symbols,
            evaluated = summary.evaluated,
            signals = summary.signals,
            blocked = summary.blocked,
            enqueued = summary.enqueued,
            errors = summary.errors,
            missed = summary.missed,
            duration_ms = summary.duration_ms as u64,
            "evaluator run"
        );
        Ok(summary)
    }

    /// The run's BUY/SELL SIGNAL messages, counted as delivered or not.
    async fn send_alerts(&self, to_alert: Vec<(Box<SignalRecord>, String)>, summary: &mut RunSummary) {
        for (signal, text) in to_alert {
            match self.alert(&signal, text).await {
                Ok(true) => summary.alerts_sent += 1,
                Ok(false) => summary.alerts_failed += 1,
                Err(e) => {
                    tracing::error!(signal_id = %signal.signal_id, error = %e, "recording the signal alert failed");
                    summary.alerts_failed += 1;
                }
            }
        }
    }

    /// Sends the run's signals to the queue in one batch, counting what went and what did not (a signal recorded and
    /// not enqueued stays without an intent; the sweeper re-drives it after the grace).
    async fn enqueue(&self, to_send: &[SignalMessage], summary: &mut RunSummary) {
        if to_send.is_empty() {
            return;
        }
        match self.queue.send(to_send).await {
            Ok(failures) => {
                for f in &failures {
                    tracing::error!(signal_id = %f.signal_id, reason = %f.reason, "signal recorded but not enqueued");
                }
                summary.errors += failures.len();
                summary.enqueued = to_send.len() - failures.len();
            }
            Err(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), count = to_send.len(), "enqueue failed; signals stay recorded for re-drive");
                summary.errors += to_send.len();
            }
        }
    }

    /// The BUY/SELL SIGNAL message through the alerts outbox; the outcome is recorded on the signal. Ok(false): not
    /// delivered (the outbox row stays PENDING).
    async fn alert(&self, signal: &SignalRecord, text: String) -> Result<bool, StoreError> {
        let row = AlertRecord {
            alert_id: AlertRecord::signal_id(&signal.signal_id),
            kind: AlertKind::Signal,
            symbol: signal.symbol.clone(),
            side: signal.side,
            text,
            status: AlertStatus::Pending,
            telegram_message_id: None,
            attempts: 0,
            last_error: None,
            created_at: self.clock.now(),
            sent_at: None,
        };
        if !self.stores.alerts.put_new(&row).await? {
            return Ok(true); // an earlier run of this signal owns the alert
        }
        let delivered = deliver(self.stores.alerts, self.notifier, self.clock, &row).await?;
        self.stores.signals.record_alert(&signal.signal_id, delivered).await?;
        Ok(delivered.is_some())
    }

    /// Whether trading is halted now, for the alerts' mode line. A failed read is logged and taken as not halted:
    /// the claim checks the control row anyway, so no order follows a halt whatever the alert said.
    async fn halt(&self) -> Option<shared::risk::Halt> {
        if !self.read_control {
            return None;
        }
        match self.stores.control.control().await {
            Ok(c) => c.halt,
            Err(e) => {
                tracing::warn!(error = %e, "control row not read: this run's alerts do not say whether trading is halted");
                None
            }
        }
    }

    /// [`Evaluator::evaluate`], unless the run's deadline has passed: then the symbol is MISSED, logged by name.
    async fn evaluate_in_time(
        &self,
        entry: &WatchlistEntry,
        market_time_ms: i64,
        halt: Option<&shared::risk::Halt>,
    ) -> Step {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            tracing::error!(symbol = %entry.symbol, "not evaluated: the run's deadline passed (raise the function's timeout or lower the watchlist)");
            return Step::Missed;
        }
        self.evaluate(entry, market_time_ms, halt).await
    }

    async fn evaluate(&self, entry: &WatchlistEntry, market_time_ms: i64, halt: Option<&shared::risk::Halt>) -> Step {
        let (preset, timeframe) = match self.settings(entry) {
            Ok(settings) => settings,
            Err(step) => return step,
        };
        let (candles, ind, verdict) = match self.decide(entry, &preset, timeframe, market_time_ms).await {
            Ok(decided) => decided,
            Err(step) => return step,
        };
        let Verdict::Signal { side, reason } = verdict else {
            return Step::Wait;
        };
        let Some(last) = candles.last() else {
            return Step::NoHistory;
        };
        let symbol = &entry.symbol;
        let Some(price) = strategy::price_decimal(ind.price) else {
            tracing::warn!(%symbol, reason_code = %ReasonCode::DataMissing, price = ind.price, "price is not a decimal");
            return Step::Error;
        };
        let emoji = if side == shared::ids::Side::Buy { "✅" } else { "🔴" };
        let mut record = SignalRecord {
            signal_id: SignalId::new(symbol, side, last.open_ms),
            symbol: symbol.clone(),
            side,
            price,
            strategy: preset.name.to_string(),
            indicators: ind.as_map(),
            candle_open_ms: last.open_ms,
            created_at: self.clock.now(),
            blocked: false,
            blocked_reason: None,
            message: format!(
                "{emoji} {side} SIGNAL: {symbol} @ {price} {} - {reason}",
                shared::money::quote_currency(symbol)
            ),
            trade_amount_usd: entry.trade_amount_usd,
            trade_enabled: entry.trade_enabled,
            notify_order_placed: entry.notify_order_placed,
            alert_status: None,
            alert_message_id: None,
            decision: None,
        };
        let change_pct = entry.last(side).and_then(|p| strategy::change_pct(p.price, price));
        let alert_text =
            shared::messages::signal_alert_text(&record, change_pct, &reason, (self.mode, halt), timeframe.as_str());
        if !entry.alert_enabled {
            record.blocked = true;
            record.blocked_reason = Some(BlockedReason::AlertsDisabled);
        } else if let Some(step) = self.throttle_and_claim(entry, &preset, &mut record).await {
            return step;
        }
        self.record(record, alert_text).await
    }

    /// The entry's preset (with its overrides) and timeframe; an unknown name is an error of this symbol only.
    fn settings(&self, entry: &WatchlistEntry) -> Result<(Preset, Timeframe), Step> {
        let invalid = || {
            let problems = entry.problems();
            tracing::error!(symbol = %entry.symbol, ?problems, "the watchlist row names an unknown setting");
            Step::Error
        };
        let table_preset = entry.preset.valid().ok_or_else(invalid)?;
        let rsi = entry
            .rsi_method
            .as_ref()
            .map(|m| m.valid().ok_or_else(invalid))
            .transpose()?;
        let timeframe = match &entry.timeframe {
            Some(tf) => tf.valid().ok_or_else(invalid)?,
            None => self.timeframe,
        };
        Ok((
            table_preset.with_overrides(entry.buy_target, entry.volume_min_ratio, rsi),
            timeframe,
        ))
    }

    /// The closed candles as of `market_time_ms`, their indicators and the preset's verdict (the volume gate's
    /// 5-minute candles only when RSI is outside the preset's band, MA10w's daily candles only when the SELL decision
    /// turns on it: one extra request each, then).
    async fn decide(
        &self,
        entry: &WatchlistEntry,
        preset: &Preset,
        timeframe: Timeframe,
        market_time_ms: i64,
    ) -> Result<(Vec<Candle>, Indicators, Verdict), Step> {
        let symbol = &entry.symbol;
        let candles = match self
            .market
            .closed_candles(symbol, timeframe, self.candle_count, market_time_ms)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(%symbol, reason_code = %ReasonCode::DataMissing, error = %e, "no usable market data");
                return Err(Step::Error);
            }
        };
        let more = Fetch {
            evaluator: self,
            symbol,
            market_time_ms,
        };
        match shared::market::pipeline::evaluate(preset, &candles, &more).await {
            Some((ind, verdict)) => Ok((candles, ind, verdict)),
            None => {
                tracing::debug!(%symbol, candles = candles.len(), "not enough closed candles yet");
                Err(Step::NoHistory)
            }
        }
    }

    /// The completed 5-minute candles the volume gate reads (one request). None to be had is no volume data, so no
    /// signal this run — never the original's fallback of a gate that always passes.
    async fn volume_candles(&self, symbol: &Symbol, market_time_ms: i64) -> Vec<Candle> {
        match self
            .market
            .closed_candles(symbol, Timeframe::M5, VOLUME_CANDLES, market_time_ms)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(%symbol, reason_code = %ReasonCode::DataMissing, error = %e, "no 5-minute candles: no volume data, no signal");
                Vec::new()
            }
        }
    }

    /// Throttle, then claim the emission in the watchlist row with a condition on the previous one, so two
    /// overlapping runs cannot both send. A claim of this very signal is a lease: while it is live, the run that
    /// took it is still in flight and finishes it; once it has run out, that run died between the claim and the
    /// signal row, and this run finishes it. `Some(step)`: this run stops here; a throttled signal is marked
    /// blocked in `record` and goes on to be recorded.
    async fn throttle_and_claim(
        &self,
        entry: &WatchlistEntry,
        preset: &Preset,
        record: &mut SignalRecord,
    ) -> Option<Step> {
        let (symbol, side, signal_id) = (&entry.symbol, record.side, &record.signal_id);
        let prev = entry.last(side);
        let now_ms = self.clock.now().timestamp_millis();
        if prev.is_some_and(|p| p.is_live_claim_of(signal_id.as_str(), now_ms, self.claim_lease_ms)) {
            tracing::info!(%symbol, %side, %signal_id, "another evaluator run holds this emission");
            return Some(Step::Known);
        }
        if prev.and_then(|p| p.signal_id.as_deref()) == Some(signal_id.as_str()) {
            return None; // resumed: this run finishes what a dead run claimed
        }
        let cooldown_ms = strategy::cooldown_ms(entry.cooldown_minutes.unwrap_or(strategy::DEFAULT_COOLDOWN_MINUTES));
        let min_pct = entry.min_price_change_pct.unwrap_or(preset.min_price_change_pct);
        let why = strategy::throttle(prev, record.candle_open_ms, record.price, cooldown_ms, min_pct);
        if why.holds_back() {
            record.blocked = true;
            record.blocked_reason = Some(BlockedReason::ThrottledDuplicateAlert);
            record.message = format!("{} [{why}]", record.message);
            return None;
        }
        let this = Emission {
            candle_open_ms: record.candle_open_ms,
            price: record.price,
            signal_id: Some(signal_id.to_string()),
            claimed_at_ms: Some(now_ms),
            claim_token: Some(uuid::Uuid::new_v4().to_string()),
        };
        match self.stores.watchlist.record_emission(symbol, side, prev, &this).await {
            Ok(true) => None,
            Ok(false) => {
                tracing::info!(%symbol, %side, "another evaluator run sent this side first");
                Some(Step::Known)
            }
            Err(e) => {
                tracing::error!(%symbol, error = %e, "recording the throttle state failed");
                Some(Step::Error)
            }
        }
    }

    /// The signal row's conditional put, and what the run does next.
    async fn record(&self, record: SignalRecord, alert_text: String) -> Step {
        match self.stores.signals.put_new(&record).await {
            Ok(PutOutcome::Created) if record.blocked => Step::Blocked,
            Ok(PutOutcome::Created) => Step::Sent(Box::new(record), Some(alert_text)),
            // Recorded by an earlier run that may have died before enqueueing, or by this very put when its answer
            // was lost and the SDK retried it: send again (the orchestrator's claim makes a duplicate message
            // harmless), and alert (the alert row's conditional put makes a second alert impossible, while a run
            // that died before alerting no longer loses the alert). Decided or blocked rows need nothing.
            Ok(PutOutcome::Exists(old)) if !old.blocked && old.decision.is_none() => {
                Step::Sent(Box::new(old), Some(alert_text))
            }
            Ok(PutOutcome::Exists(_)) => Step::Known,
            Err(e) => {
                tracing::error!(symbol = %record.symbol, error = %e, source = ?std::error::Error::source(&e), "recording the signal failed");
                Step::Error
            }
        }
    }
}

/// The pipeline's extra candles for one symbol, fetched from the market on demand.
struct Fetch<'a, 'e> {
    evaluator: &'a Evaluator<'e>,
    symbol: &'a Symbol,
    market_time_ms: i64,
}

#[async_trait::async_trait]
impl shared::market::pipeline::MoreCandles for Fetch<'_, '_> {
    async fn five_min(&self) -> Vec<Candle> {
        self.evaluator.volume_candles(self.symbol, self.market_time_ms).await
    }

    async fn daily(&self) -> Option<Vec<Candle>> {
        let (symbol, days) = (self.symbol, shared::market::pipeline::DAILY_CANDLES);
        match self
            .evaluator
            .market
            .closed_candles(symbol, Timeframe::D1, days, self.market_time_ms)
            .await
        {
            Ok(daily) => Some(daily),
            Err(e) => {
                tracing::warn!(%symbol, error = %e, "no daily candles; MA10w falls back to 70 candles");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::adapters::replay::ReplayMarketData;
    use shared::fakes::{ManualClock, MemoryNotifier, MemoryQueue, MemoryStore};
    use shared::ids::Symbol;

    fn entry(sym: &str) -> WatchlistEntry {
        WatchlistEntry::new(Symbol::parse(sym).unwrap())
    }

    #[test]
    fn a_run_is_published_as_metrics_zeros_in_the_line_only() {
        let run = RunSummary {
            signals: 2,
            alerts_failed: 1,
            ..RunSummary::default()
        };
        let emf = run.emf("NS", 1_000);
        assert_eq!(
            (emf["EvaluatorSignals"].as_u64(), emf["SignalAlertFailures"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(emf["EvaluatorErrors"].as_u64(), Some(0));
        // Zeros are in the line, not metrics: a quiet run publishes nothing billable.
        assert_eq!(
            shared::report::metrics::declared(&emf),
            ["EvaluatorSignals", "SignalAlertFailures"]
        );
        assert_eq!(emf["EvaluatorMissed"].as_u64(), Some(0));
        assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "NS");
    }

    #[tokio::test]
    async fn replay_emits_signals_once_per_candle_and_enqueues_them() {
        let market = ReplayMarketData::embedded().unwrap();
        let store = MemoryStore::with_watchlist(vec![entry("ETH_BTC"), entry("DOGE_USDT")]);
        let queue = MemoryQueue::default();
        let notifier = MemoryNotifier::default();
        let clock = ManualClock::new(chrono::Utc::now(), 0);
        let ev = Evaluator {
            concurrency: 4,
            ..Evaluator::over(&store, &queue, &market, &clock, &notifier)
        };
        let mut total = RunSummary::default();
        for t in market.close_times(Timeframe::H1).into_iter().take(200) {
            clock.set_market_ms(t);
            let s = ev.run().await.unwrap();
            total.signals += s.signals;
            total.errors += s.errors;
            // Same market time again, while the first run's emission claims are live: nothing is sent twice.
            let overlap = ev.run().await.unwrap();
            assert_eq!(overlap.signals, 0, "a live claim belongs to the run that took it");
            // Once the claims have run out, undecided signals are re-sent (the conditional put finds the rows).
            clock.advance_ms(60_000);
            let again = ev.run().await.unwrap();
            assert_eq!(
                again.signals, s.signals,
                "undecided signals are re-sent, not re-created"
            );
            total.errors += overlap.errors + again.errors;
        }
        assert!(total.signals > 0, "the real ETH_BTC series produces signals");
        assert_eq!(
            total.errors, 600,
            "DOGE_USDT has no data: one DATA_MISSING error per run, the others go on"
        );
        let rows = store.signals();
        assert_eq!(rows.iter().filter(|s| !s.blocked).count(), total.signals);
        let throttled = rows
            .iter()
            .filter(|s| s.blocked_reason == Some(BlockedReason::ThrottledDuplicateAlert))
            .count();
        assert!(throttled > 0, "repeats within the price gate are held back");
        assert!(rows
            .iter()
            .filter(|s| s.blocked)
            .all(|s| s.message.contains("THROTTLED_")));
        let sent = queue.sent();
        assert_eq!(sent.len(), total.signals * 2);
        assert!(sent.iter().all(|m| m.symbol == Symbol::parse("ETH_BTC").unwrap()));
    }

    /// Past the run's deadline no symbol is started: each is MISSED, counted and logged, none asked for candles.
    #[tokio::test]
    async fn symbols_after_the_deadline_are_missed_and_counted() {
        let market = ReplayMarketData::embedded().unwrap();
        let store = MemoryStore::with_watchlist(vec![entry("ETH_BTC"), entry("XRP_USDT"), entry("DOGE_USDT")]);
        let (queue, notifier) = (MemoryQueue::default(), MemoryNotifier::default());
        let clock = ManualClock::new(chrono::Utc::now(), market.close_times(Timeframe::H1)[250]);
        let ev = Evaluator {
            deadline: Some(Instant::now()),
            ..Evaluator::over(&store, &queue, &market, &clock, &notifier)
        };
        let s = ev.run().await.unwrap();
        assert_eq!((s.symbols, s.missed, s.evaluated, s.errors), (3, 3, 0, 0));
        // A deadline Lambda gives 30 s from now leaves 25 s to start symbols in; one already past leaves none.
        let now_ms = chrono::Utc::now().timestamp_millis();
        let left = run_deadline(u64::try_from(now_ms + 30_000).unwrap(), now_ms) - Instant::now();
        assert!(left > std::time::Duration::from_secs(24) && left <= std::time::Duration::from_secs(25));
        assert!(run_deadline(0, now_ms) <= Instant::now());
        let ev = Evaluator {
            deadline: Some(run_deadline(u64::try_from(now_ms + 30_000).unwrap(), now_ms)),
            ..Evaluator::over(&store, &queue, &market, &clock, &notifier)
        };
        assert_eq!(ev.run().await.unwrap().missed, 0);
    }

    #[test]
    fn sample_schedule_event_parses() {
        let e: aws_lambda_events::eventbridge::EventBridgeEvent =
            serde_json::from_str(include_str!("../../../events/evaluator-schedule.json")).unwrap();
        assert_eq!(e.detail_type, "Scheduled Event");
    }

    #[tokio::test]
    async fn alerts_disabled_records_a_blocked_signal_and_sends_nothing() {
        let market = ReplayMarketData::embedded().unwrap();
        let mut e = entry("ETH_BTC");
        e.alert_enabled = false;
        let store = MemoryStore::with_watchlist(vec![e]);
        let queue = MemoryQueue::default();
        let notifier = MemoryNotifier::default();
        let clock = ManualClock::new(chrono::Utc::now(), 0);
        let ev = Evaluator::over(&store, &queue, &market, &clock, &notifier);
        for t in market.close_times(Timeframe::H1).into_iter().take(150) {
            clock.set_market_ms(t);
            ev.run().await.unwrap();
        }
        assert!(!store.signals().is_empty());
        assert!(store
            .signals()
            .iter()
            .all(|s| s.blocked && s.blocked_reason == Some(BlockedReason::AlertsDisabled)));
        assert!(queue.sent().is_empty());
        assert!(notifier.sent().is_empty(), "no alert for a symbol with alerts disabled");
    }

    #[tokio::test]
    async fn while_trading_is_halted_the_signal_alerts_say_so() {
        let market = ReplayMarketData::embedded().unwrap();
        let store = MemoryStore::with_watchlist(vec![entry("ETH_BTC")]);
        let (queue, notifier) = (MemoryQueue::default(), MemoryNotifier::default());
        let clock = ManualClock::new(chrono::Utc::now(), 0);
        let now = shared::ports::Clock::now(&clock);
        shared::flow::trading::halt(&store, "exchange maintenance", "@ops", now)
            .await
            .unwrap();
        let ev = Evaluator {
            mode: ExecutionMode::Live,
            read_control: true,
            ..Evaluator::over(&store, &queue, &market, &clock, &notifier)
        };
        for t in market.close_times(Timeframe::H1).into_iter().take(300) {
            clock.set_market_ms(t);
            ev.run().await.unwrap();
        }
        let sent = notifier.sent();
        assert!(!sent.is_empty(), "some signal was alerted");
        for text in &sent {
            assert!(
                text.contains("<b>HALTED</b> · LIVE trading stopped by @ops: exchange maintenance")
                    && !text.contains("real orders"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn watchlist_overrides_reach_the_rule() {
        let market = ReplayMarketData::embedded().unwrap();
        let mut capped = entry("ETH_BTC");
        capped.buy_target = Some(0.0001); // ETH/BTC never traded that low: no BUY
        let store = MemoryStore::with_watchlist(vec![capped]);
        let queue = MemoryQueue::default();
        let notifier = MemoryNotifier::default();
        let clock = ManualClock::new(chrono::Utc::now(), 0);
        let ev = Evaluator::over(&store, &queue, &market, &clock, &notifier);
        for t in market.close_times(Timeframe::H1) {
            clock.set_market_ms(t);
            ev.run().await.unwrap();
        }
        assert!(
            store.signals().iter().all(|s| s.side == shared::ids::Side::Sell),
            "only SELLs under a tiny buy target"
        );
        assert!(!store.signals().is_empty());

        let mut bad = entry("ETH_BTC");
        bad.timeframe = Some(shared::watchlist::Setting::Invalid("7m".into()));
        let store = MemoryStore::with_watchlist(vec![bad]);
        let ev = Evaluator {
            stores: Stores::of(&store),
            ..ev
        };
        assert_eq!(
            ev.run().await.unwrap().errors,
            1,
            "an unknown timeframe is that symbol's error"
        );
    }
}
