//! The cost model of docs/PERFORMANCE.md ("Cost"): the counts measured on the wire (pinned by the integration test
//! `costs`, which fails when one changes) times AWS list prices. Prices are us-east-1's published on-demand prices
//! (arm64 Lambda, the template's default), without any free tier: an account shares those with everything else it
//! runs. What is not measured here is an assumption, named as such below.

/// DynamoDB requests by operation, as counted by [`crate::opcount::OpCounter`].
pub type Ops = &'static [(&'static str, usize)];

/// One placed paper BUY through the orchestrator's handler of a warm container (the control row and the symbol's
/// limits cached): the claim (with the size), the finalize, ORDER PLACED, the fill and ORDER EXECUTED, the first
/// protection step and SL/TP PLACED, the breaker's success.
pub const PLACED_SIGNAL: Ops = &[("GetItem", 1), ("TransactWriteItems", 5), ("UpdateItem", 4)];
/// One sweeper run over empty tables (a 24-hour window: two days of the `by_day` index, signals and intents).
pub const IDLE_SWEEP: Ops = &[("GetItem", 4), ("Query", 4)];
/// One evaluator run over 10 symbols without a signal.
pub const IDLE_EVALUATION: Ops = &[("BatchGetItem", 1), ("GetItem", 1), ("Query", 1)];
/// Custom metrics an idle run publishes (EMF): a count is a metric only when it is not zero (`shared::report::metrics`), so
/// neither the sweeper's report nor the evaluator's run over a quiet market publishes one (pinned by `costs`).
pub const IDLE_METRICS: usize = 0;
/// Assumed, not counted: the metrics a trading stack keeps published — `SentSignals` and `OrdersPlaced` for the 24
/// hours of the sweeper's window after each signal, `EvaluatorSignals` in the hours of runs that emitted one. At
/// 1,000 signals a month spread over it, all three are published all month; bunched signals cost less.
pub const ACTIVE_METRICS: usize = 3;
/// From template.yaml: alarms, dashboards, secrets, customer-managed KMS keys, and the two schedules (runs a month at
/// one every 5 minutes, 30 days).
pub const ALARMS: usize = 22;
pub const DASHBOARDS: usize = 1;
pub const SECRETS: usize = 3;
pub const KMS_KEYS: usize = 1;
pub const RUNS_PER_MONTH: f64 = 8_640.0;
pub const MEMORY_GB: f64 = 0.25;

/// Assumptions (not measured here): a DynamoDB round trip in the region, the write units of a transactional item
/// (items up to 2 KB, doubled by the transaction) and of a plain write, and the log bytes of a run and of a signal.
pub const ROUND_TRIP_S: f64 = 0.010;
pub const WRU_PER_TRANSACT_ITEM: f64 = 4.0;
pub const ITEMS_PER_TRANSACTION: f64 = 3.5;
pub const WRU_PER_WRITE: f64 = 2.0;
pub const RRU_PER_READ: f64 = 0.5;
pub const LOG_BYTES_PER_RUN: f64 = 2_000.0;
pub const LOG_BYTES_PER_SIGNAL: f64 = 6_000.0;
/// SQS requests per signal: the evaluator's send (batched, counted whole), the receive and the delete.
pub const SQS_PER_SIGNAL: f64 = 3.0;

/// USD list prices.
pub const LAMBDA_PER_REQUEST: f64 = 0.20 / 1e6;
pub const LAMBDA_PER_GB_S: f64 = 0.000_013_333_4;
pub const WRU: f64 = 0.625 / 1e6;
pub const RRU: f64 = 0.125 / 1e6;
pub const SQS_PER_REQUEST: f64 = 0.40 / 1e6;
pub const METRIC_MONTH: f64 = 0.30;
pub const ALARM_MONTH: f64 = 0.10;
pub const DASHBOARD_MONTH: f64 = 3.00;
pub const SECRET_MONTH: f64 = 0.40;
pub const KMS_KEY_MONTH: f64 = 1.00;
pub const LOG_PER_GB: f64 = 0.50;
pub const XRAY_PER_TRACE: f64 = 5.0 / 1e6;

fn count(ops: Ops, names: &[&str]) -> f64 {
    ops.iter()
        .filter(|(n, _)| names.contains(n))
        .map(|(_, c)| *c as f64)
        .sum()
}

fn requests(ops: Ops) -> f64 {
    ops.iter().map(|(_, c)| *c as f64).sum()
}

/// The DynamoDB bill of `ops` in USD.
pub fn dynamodb_usd(ops: Ops) -> f64 {
    let wru = count(ops, &["TransactWriteItems"]) * ITEMS_PER_TRANSACTION * WRU_PER_TRANSACT_ITEM
        + count(ops, &["PutItem", "UpdateItem", "DeleteItem"]) * WRU_PER_WRITE;
    let rru = count(ops, &["GetItem", "Query"]) * RRU_PER_READ + count(ops, &["BatchGetItem"]) * 2.0 * RRU_PER_READ;
    wru * WRU + rru * RRU
}

/// One invocation whose time is its DynamoDB round trips.
pub fn lambda_usd(ops: Ops) -> f64 {
    LAMBDA_PER_REQUEST + requests(ops) * ROUND_TRIP_S * MEMORY_GB * LAMBDA_PER_GB_S
}

/// A line of the bill: what, and USD.
pub type Line = (&'static str, f64);

/// An idle stack's month: both schedules running, no signal.
pub fn idle_month() -> Vec<Line> {
    let runs = RUNS_PER_MONTH;
    vec![
        ("CloudWatch custom metrics", IDLE_METRICS as f64 * METRIC_MONTH),
        ("CloudWatch dashboard", DASHBOARDS as f64 * DASHBOARD_MONTH),
        ("CloudWatch alarms", ALARMS as f64 * ALARM_MONTH),
        ("Secrets Manager secrets", SECRETS as f64 * SECRET_MONTH),
        ("KMS key (the alarm topic's)", KMS_KEYS as f64 * KMS_KEY_MONTH),
        ("X-Ray traces (every scheduled run)", 2.0 * runs * XRAY_PER_TRACE),
        (
            "Lambda (both schedules)",
            runs * (lambda_usd(IDLE_SWEEP) + lambda_usd(IDLE_EVALUATION)),
        ),
        (
            "DynamoDB (both schedules)",
            runs * (dynamodb_usd(IDLE_SWEEP) + dynamodb_usd(IDLE_EVALUATION)),
        ),
        ("CloudWatch Logs", 2.0 * runs * LOG_BYTES_PER_RUN / 1e9 * LOG_PER_GB),
    ]
}

/// 1,000 placed paper signals, one orchestrator invocation each (the worst case: a batch of one).
pub fn per_1000_signals() -> Vec<Line> {
    vec![
        ("DynamoDB", 1_000.0 * dynamodb_usd(PLACED_SIGNAL)),
        ("Lambda", 1_000.0 * lambda_usd(PLACED_SIGNAL)),
        ("SQS", 1_000.0 * SQS_PER_SIGNAL * SQS_PER_REQUEST),
        ("CloudWatch Logs", 1_000.0 * LOG_BYTES_PER_SIGNAL / 1e9 * LOG_PER_GB),
        ("X-Ray traces", 1_000.0 * XRAY_PER_TRACE),
        (
            "CloudWatch custom metrics (at most)",
            ACTIVE_METRICS as f64 * METRIC_MONTH,
        ),
    ]
}

pub fn total(lines: &[Line]) -> f64 {
    lines.iter().map(|(_, usd)| usd).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_adds_up() {
        let idle = idle_month();
        // Metrics, dashboard and alarms: 0 + 3.00 + 2.20 of it.
        assert!((total(&idle[..3]) - 5.20).abs() < 1e-9);
        assert!(total(&idle) > total(&idle[..5]));
        // A placed signal's 5 transactions of 3.5 items at 4 WRU and 5 plain writes at 2: 80 WRU.
        assert!((dynamodb_usd(&[("TransactWriteItems", 5), ("PutItem", 5)]) - 80.0 * WRU).abs() < 1e-15);
        assert!(total(&per_1000_signals()) > 0.0);
    }
}
