//! Sweeper/monitor: on each schedule tick it computes the invariants report over the last hours, publishes its
//! counts as one CloudWatch Embedded Metric Format line (every run, zeros included, so the alarms always have data),
//! and repairs what can be repaired:
//! - a sent signal without an intent, without a decision, or with an intent stuck past its lease is re-driven: its
//!   message goes back on the signals queue, and the orchestrator's own claim/takeover logic finishes it (never a
//!   second code path);
//! - a failed order whose ORDER FAILED message is still PENDING, and a sent signal whose BUY/SELL SIGNAL alert is
//!   still PENDING, are sent again from their outbox rows.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use shared::flow::deliver::deliver;
use shared::flow::follow::{FollowTotals, Follower};
use shared::flow::protect::{ProtectTotals, Protector};
use shared::ids::SignalId;
use shared::outbox::{AlertId, AlertKind, AlertRecord, AlertStatus};
use shared::ports::{Clock, Exchange, Notifier, SignalQueue, Store, StoreError, Stores};
use shared::report::invariants::{self, emf_document, Counts, Patience, Report, ReportQuery, Rows, ViolationType};
use shared::signal::{SignalAlertStatus, SignalMessage};

pub struct Sweeper<'a> {
    /// The signals, the intents, the outbox, and the control row (published as the TradingHalted metric).
    pub stores: Stores<'a>,
    pub queue: &'a dyn SignalQueue,
    pub notifier: &'a dyn Notifier,
    pub clock: &'a dyn Clock,
    pub patience: Patience,
    pub window_hours: u32,
    pub namespace: &'a str,
    /// Where placed orders' fills are read (docs/DESIGN.md §13); None: no reconciliation (a sweeper built for a
    /// test of the other repairs).
    pub exchange: Option<&'a dyn Exchange>,
    /// Order lookups in flight at once (`RECONCILE_PARALLEL`), within the exchange's 30 get-order-detail per 100 ms.
    pub reconcile_parallel: usize,
    /// Decimal places of a quantity (`QUANTITY_DECIMALS`): less than one step is dust, never protected.
    pub quantity_decimals: u32,
}

impl<'a> Sweeper<'a> {
    /// The sweeper over one store (signals, intents, alerts and the control row) with the configuration's defaults —
    /// a 120 s grace, a 24 h window, the `SignalOrchestrator` metric namespace — which callers change with struct
    /// update syntax (`Sweeper { window_hours: 168, ..Sweeper::over(…) }`).
    pub fn over<S: Store>(
        store: &'a S,
        queue: &'a dyn SignalQueue,
        notifier: &'a dyn Notifier,
        clock: &'a dyn Clock,
    ) -> Self {
        Sweeper {
            stores: Stores::of(store),
            queue,
            notifier,
            clock,
            patience: Duration::seconds(120).into(),
            window_hours: 24,
            namespace: "SignalOrchestrator",
            exchange: None,
            reconcile_parallel: 10,
            quantity_decimals: 8,
        }
    }
}

/// What one run saw and did (the invocation's response).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SweepSummary {
    pub counts: Counts,
    pub pass: bool,
    pub redriven: usize,
    pub redrive_failures: usize,
    pub alerts_resent: usize,
    pub alerts_still_pending: usize,
    /// The reconciliation of placed orders' fills: lookups, reports recorded, ORDER EXECUTED messages sent.
    pub fills: FollowTotals,
    /// The protection of filled BUYs (docs/DESIGN.md §14): entries looked at, steps recorded, deferred.
    pub protection: ProtectTotals,
    /// This run's check of today's realized loss halted trading (the loss breaker).
    pub loss_halt: bool,
    /// The ghost orders this run's look at the exchange found (None: the exchange could not be read, or none set).
    pub ghost_orders: Option<usize>,
}

impl Sweeper<'_> {
    /// Returns the EMF document (the caller writes it to stdout, where Lambda ships it to CloudWatch Logs) and the
    /// run's summary. The metrics describe the state as found, before this run's repairs.
    pub async fn run(&self) -> Result<(serde_json::Value, SweepSummary), StoreError> {
        let now = self.clock.now();
        let query = ReportQuery {
            hours: self.window_hours,
            limit: None,
            side: None,
        };
        let rows = invariants::gather(self.stores, &query, now).await?;
        let mut report = invariants::evaluate(&query, &rows, now, self.patience);
        // The halt (TradingHalted) when the control row can be read, and the ghost orders as the previous run's look
        // at the exchange found them (this run's look comes after the repairs); the invariants are published either way.
        invariants::add_control(&mut report, self.stores.control).await;
        let mut emf = emf_document(self.namespace, &report, now.timestamp_millis());

        let (redriven, redrive_failures) = self.redrive(&report, &rows).await?;
        let (mut alerts_resent, mut alerts_still_pending) = self.resend_failure_alerts(&report, &rows).await?;
        for (resent, pending) in [
            self.resend_signal_alerts(&rows, now).await?,
            self.resend_order_messages(&rows, now).await?,
        ] {
            alerts_resent += resent;
            alerts_still_pending += pending;
        }
        let fills = self.reconcile(&rows).await?;
        let protection = self.protect().await?;
        let ghosts = match self.exchange {
            Some(exchange) => {
                shared::flow::ghosts::check(exchange, self.stores.intents, self.stores.control, now).await?
            }
            None => None,
        };
        let loss_halt = self.loss_breaker(&rows, now).await;

        let summary = SweepSummary {
            pass: report.pass,
            redriven,
            redrive_failures,
            alerts_resent,
            alerts_still_pending,
            counts: report.counts,
            fills,
            protection,
            loss_halt,
            ghost_orders: ghosts.map(|g| g.len()),
        };
        shared::report::metrics::add_count(&mut emf, "Redriven", summary.redriven);
        shared::report::metrics::add_count(&mut emf, "AlertsResent", summary.alerts_resent);
        shared::report::metrics::add_count(&mut emf, "FillsRecorded", summary.fills.recorded);
        shared::report::metrics::add_count(&mut emf, "FillsUnreadable", summary.fills.unreadable);
        shared::report::metrics::add_count(&mut emf, "ProtectionSteps", summary.protection.moved);
        shared::report::metrics::add_count(&mut emf, "ProtectionFailures", summary.protection.failed);
        tracing::info!(
            pass = summary.pass,
            redriven = summary.redriven,
            alerts_resent = summary.alerts_resent,
            fills_looked_up = summary.fills.looked_up,
            fills_recorded = summary.fills.recorded,
            executed_messages = summary.fills.executed_messages,
            violations = report.violations.len(),
            "sweep"
        );
        Ok((emf, summary))
    }

    /// Signals without an intent, a decision or a terminal intent, sent again to the signals queue (the
    /// orchestrator's claim finishes them or finds them done). Returns (re-driven, refused by the queue).
    async fn redrive(&self, report: &Report, rows: &Rows) -> Result<(usize, usize), StoreError> {
        let redrive_ids: BTreeSet<&str> = report
            .violations
            .iter()
            .filter(|v| {
                matches!(
                    v.violation,
                    ViolationType::MissingIntent | ViolationType::NullDecision | ViolationType::NonTerminalIntent
                )
            })
            .filter_map(|v| v.signal_id.as_ref().map(SignalId::as_str))
            .collect();
        let messages: Vec<SignalMessage> = rows
            .signals
            .iter()
            .filter(|s| redrive_ids.contains(s.signal_id.as_str()))
            .map(|s| s.to_message())
            .collect();
        if messages.is_empty() {
            return Ok((0, 0));
        }
        let mut refused = 0;
        for f in self.queue.send(&messages).await? {
            tracing::error!(signal_id = %f.signal_id, reason = %f.reason, "re-drive refused by the queue");
            refused += 1;
        }
        for m in &messages {
            tracing::warn!(signal_id = %m.signal_id, "re-driven to the signals queue");
        }
        Ok((messages.len() - refused, refused))
    }

    /// ORDER FAILED messages not delivered yet (FAILED_WITHOUT_TELEGRAM). Returns (re-sent, still pending).
    async fn resend_failure_alerts(&self, report: &Report, rows: &Rows) -> Result<(usize, usize), StoreError> {
        let pending: Vec<&AlertRecord> = report
            .violations
            .iter()
            .filter(|v| v.violation == ViolationType::FailedWithoutTelegram)
            .filter_map(|v| v.signal_id.clone())
            .filter_map(|id| {
                rows.outbox
                    .get(&AlertRecord::failure_id(&shared::ids::IdempotencyKey::for_signal(&id)))
            })
            .filter(|a| a.status != AlertStatus::Sent)
            .collect();
        let (mut resent, mut still_pending) = (0, 0);
        for alert in &pending {
            match deliver(self.stores.alerts, self.notifier, self.clock, alert).await? {
                Some(_) => resent += 1,
                None => still_pending += 1,
            }
        }
        Ok((resent, still_pending))
    }

    /// BUY/SELL SIGNAL alerts the evaluator could not deliver: their outbox rows are still PENDING. Returns
    /// (re-sent, still pending).
    async fn resend_signal_alerts(&self, rows: &Rows, now: DateTime<Utc>) -> Result<(usize, usize), StoreError> {
        let undelivered: Vec<String> = rows
            .signals
            .iter()
            .filter(|s| s.alert_status != Some(SignalAlertStatus::Sent) && now - s.created_at > self.patience.grace)
            .map(|s| AlertRecord::signal_id(&s.signal_id))
            .collect();
        let (mut resent, mut still_pending) = (0, 0);
        for (alert_id, delivered) in self.resend_pending(&undelivered).await? {
            let Some(message_id) = delivered else {
                still_pending += 1;
                continue;
            };
            resent += 1;
            if let Some(AlertId::Signal(signal_id)) = AlertId::parse(&alert_id) {
                self.stores.signals.record_alert(&signal_id, Some(message_id)).await?;
            }
        }
        Ok((resent, still_pending))
    }

    /// Every other message of the window's orders that did not go out (Telegram down when it was written) — ORDER
    /// PLACED, ORDER SKIPPED, ORDER EXECUTED — found among the outbox rows the report read (`invariants::outbox_ids`:
    /// no read to find them), still PENDING after the grace. Returns (re-sent, still pending).
    async fn resend_order_messages(
        &self,
        rows: &invariants::Rows,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(usize, usize), StoreError> {
        let ids: Vec<String> = rows
            .outbox
            .values()
            .filter(|a| a.kind != AlertKind::OrderFailed && a.status == AlertStatus::Pending)
            .filter(|a| now - a.created_at > self.patience.grace)
            .map(|a| a.alert_id.clone())
            .collect();
        let results = self.resend_pending(&ids).await?;
        let resent = results.iter().filter(|(_, delivered)| delivered.is_some()).count();
        Ok((resent, results.len() - resent))
    }

    /// The loss breaker, checked on every run (docs/DESIGN.md §13): true when this run halted trading. Then the
    /// TRADING HALTED message of any automatic halt not announced yet (this run's, or one whose breaker could not
    /// send it). A failure is logged and tried again on the next run.
    async fn loss_breaker(&self, rows: &Rows, now: DateTime<Utc>) -> bool {
        let dust = shared::flow::follow::dust(8);
        let sold = shared::flow::breaker::sold_symbols(rows.intents.values());
        let halted =
            match shared::flow::breaker::check_daily_loss(self.stores.intents, self.stores.control, &sold, dust, now)
                .await
            {
                Ok(halt) => halt
                    .inspect(
                        |h| tracing::error!(reason = %h.reason, "loss breaker tripped: trading halted until resumed"),
                    )
                    .is_some(),
                Err(e) => {
                    tracing::error!(error = %e, "loss breaker not checked this run");
                    false
                }
            };
        if let Err(e) = shared::flow::trading::announce_halt(self.stores.control, self.notifier).await {
            tracing::error!(error = %e, "the TRADING HALTED message was not recorded as sent; tried again next run");
        }
        halted
    }

    /// Reads the fill of every placed order that is not final — the window's and any older one still open
    /// (docs/DESIGN.md §13); their ORDER EXECUTED rows go out with the other order messages
    /// ([`Sweeper::resend_order_messages`]). A lookup that fails is counted and tried on the next run.
    async fn reconcile(&self, rows: &invariants::Rows) -> Result<FollowTotals, StoreError> {
        let Some(exchange) = self.exchange else {
            return Ok(FollowTotals::default());
        };
        let follower = Follower {
            stores: self.stores,
            exchange,
            notifier: self.notifier,
            clock: self.clock,
        };
        follower
            .follow_window_and_open(rows.intents.values(), self.reconcile_parallel)
            .await
    }

    /// Moves the protection of every filled BUY whose protection is not final (docs/DESIGN.md §14): they stay in
    /// the open orders index until it is, whatever their age, read after this run's fills were recorded. A step that
    /// cannot be taken now (the exchange unreadable, an unknown outcome) is counted and tried on the next run.
    async fn protect(&self) -> Result<ProtectTotals, StoreError> {
        let Some(exchange) = self.exchange else {
            return Ok(ProtectTotals::default());
        };
        let protector = Protector {
            stores: self.stores,
            exchange,
            notifier: Some(self.notifier),
            clock: self.clock,
            quantity_decimals: self.quantity_decimals,
        };
        let open = self.stores.intents.open_orders().await?;
        protector.protect_all(&open, self.reconcile_parallel).await
    }

    /// Sends again the outbox rows among `ids` that are still PENDING: (alert id, Telegram message id when
    /// delivered) for each.
    async fn resend_pending(&self, ids: &[String]) -> Result<Vec<(String, Option<i64>)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for alert in self
            .stores
            .alerts
            .get_many(ids)
            .await?
            .iter()
            .filter(|a| a.status == AlertStatus::Pending)
        {
            let delivered = deliver(self.stores.alerts, self.notifier, self.clock, alert).await?;
            out.push((alert.alert_id.clone(), delivered));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::fakes::{ManualClock, MemoryNotifier, MemoryQueue, MemoryStore};

    #[tokio::test]
    async fn publishes_zero_counts_too() {
        let store = MemoryStore::default();
        let (queue, notifier) = (MemoryQueue::default(), MemoryNotifier::default());
        let clock = ManualClock::new(chrono::Utc::now(), 0);
        let s = Sweeper {
            namespace: "NS",
            ..Sweeper::over(&store, &queue, &notifier, &clock)
        };
        let (doc, summary) = s.run().await.unwrap();
        assert_eq!(summary.counts, Counts::default());
        assert!(summary.pass);
        assert_eq!(doc["MissingIntent"], 0);
        assert_eq!(doc["Redriven"], 0);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "NS");
    }

    #[tokio::test]
    async fn a_pending_signal_alert_is_sent_again() {
        use shared::ids::{Side, Symbol};
        use shared::outbox::AlertKind;
        use shared::ports::SignalStore;
        use shared::signal::SignalRecord;
        let store = MemoryStore::default();
        let (queue, notifier) = (MemoryQueue::default(), MemoryNotifier::default());
        let clock = ManualClock::new(chrono::Utc::now(), 0);
        let sym = Symbol::parse("ETH_BTC").unwrap();
        let created_at = shared::ports::Clock::now(&clock) - Duration::minutes(10);
        let signal = SignalRecord {
            message: String::new(),
            alert_status: Some(SignalAlertStatus::Failed),
            ..shared::fakes::sent_signal(&sym, Side::Buy, 1, rust_decimal::Decimal::ONE, created_at)
        };
        SignalStore::put_new(&store, &signal).await.unwrap();
        store.insert_alert(AlertRecord {
            alert_id: AlertRecord::signal_id(&signal.signal_id),
            kind: AlertKind::Signal,
            symbol: sym,
            side: Side::Buy,
            text: "🟢 <b>BUY SIGNAL DETECTED</b>".into(),
            status: AlertStatus::Pending,
            telegram_message_id: None,
            attempts: 1,
            last_error: Some("telegram unavailable".into()),
            created_at: signal.created_at,
            sent_at: None,
        });
        let s = Sweeper {
            namespace: "NS",
            ..Sweeper::over(&store, &queue, &notifier, &clock)
        };
        let (_, summary) = s.run().await.unwrap();
        assert_eq!(summary.alerts_resent, 1);
        assert_eq!(notifier.sent(), ["🟢 <b>BUY SIGNAL DETECTED</b>"]);
        assert_eq!(store.alerts()[0].status, AlertStatus::Sent);
        assert_eq!(store.signals()[0].alert_status, Some(SignalAlertStatus::Sent));
        let (_, again) = s.run().await.unwrap();
        assert_eq!(again.alerts_resent, 0, "sent once");
    }
}
