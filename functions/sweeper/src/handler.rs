//! Sweeper/monitor: on each schedule tick, computes the invariants report over the last hours and publishes its
//! counts as one CloudWatch Embedded Metric Format line (every run, zeros included, so alarms see data). The
//! repairs — re-driving signals without an intent, reconciling stuck intents, re-sending failure alerts — are
//! not built yet; until they are, the published violation counts are what the alarms act on.

use chrono::Duration;

use shared::invariants::{self, emf_document, Counts, ReportQuery};
use shared::ports::{AlertStore, Clock, IntentStore, SignalStore, StoreError};

pub struct Sweeper<'a> {
    pub signals: &'a dyn SignalStore,
    pub intents: &'a dyn IntentStore,
    pub alerts: &'a dyn AlertStore,
    pub clock: &'a dyn Clock,
    pub grace: Duration,
    pub window_hours: u32,
    pub namespace: &'a str,
}

impl Sweeper<'_> {
    /// Returns the EMF document (the caller writes it to stdout, where Lambda ships it to CloudWatch Logs) and the
    /// counts it carries.
    pub async fn run(&self) -> Result<(serde_json::Value, Counts), StoreError> {
        let now = self.clock.now();
        let query = ReportQuery {
            hours: self.window_hours,
            limit: usize::MAX,
            side: None,
        };
        let report = invariants::collect(self.signals, self.intents, self.alerts, &query, now, self.grace).await?;
        if !report.pass {
            for v in report.violations.iter().take(20) {
                tracing::warn!(signal_id = %v.signal_id, violation = ?v.violation, message = %v.message, "invariant violated");
            }
        }
        Ok((
            emf_document(self.namespace, &report, now.timestamp_millis()),
            report.counts,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::fakes::{ManualClock, MemoryStore};

    #[tokio::test]
    async fn publishes_zero_counts_too() {
        let store = MemoryStore::default();
        let clock = ManualClock::new(chrono::Utc::now(), 0);
        let s = Sweeper {
            signals: &store,
            intents: &store,
            alerts: &store,
            clock: &clock,
            grace: Duration::seconds(120),
            window_hours: 24,
            namespace: "NS",
        };
        let (doc, counts) = s.run().await.unwrap();
        assert_eq!(counts, Counts::default());
        assert_eq!(doc["MissingIntent"], 0);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "NS");
    }
}
