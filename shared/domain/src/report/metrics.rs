//! CloudWatch Embedded Metric Format: one JSON document per line on stdout, from which CloudWatch extracts
//! metrics. Counts only, no dimensions — what the sweeper and the evaluator publish.
//!
//! **A count is declared a metric only when it is not zero.** CloudWatch bills a custom metric for each hour it is
//! published; declared at every run, the stack's 26 counts were 7.80 USD of an idle month's 15.22. Every count
//! stays in the log line (for Logs Insights) either way. So a zero is no datapoint: the alarms on these metrics
//! treat missing data as not breaching, and a sweeper that stopped running is alarmed on its own invocations
//! (`SweeperSilentAlarm`, on Lambda's free metrics) instead of on its metrics going silent (docs/DESIGN.md §10).

use serde_json::{json, Value};

/// An EMF document in `namespace` with these counts (every value in the line; the ones not zero declared).
pub fn emf(namespace: &str, timestamp_ms: i64, counts: &[(&str, usize)]) -> Value {
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{ "Namespace": namespace, "Dimensions": [[]], "Metrics": [] }],
        },
    });
    for (name, value) in counts {
        add_count(&mut doc, name, *value);
    }
    doc
}

/// Adds one count to an EMF document: its value, and its declaration as a metric when it is not zero.
pub fn add_count(doc: &mut Value, name: &str, value: usize) {
    doc[name] = json!(value);
    if value == 0 {
        return;
    }
    if let Some(list) = doc
        .pointer_mut("/_aws/CloudWatchMetrics/0/Metrics")
        .and_then(Value::as_array_mut)
    {
        list.push(json!({ "Name": name, "Unit": "Count" }));
    }
}

/// The metric names an EMF document declares.
pub fn declared(doc: &Value) -> Vec<&str> {
    doc.pointer("/_aws/CloudWatchMetrics/0/Metrics")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|m| m["Name"].as_str()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_are_in_the_line_but_not_metrics() {
        let doc = emf("NS", 1, &[("Quiet", 0), ("Busy", 2)]);
        assert_eq!((doc["Quiet"].as_u64(), doc["Busy"].as_u64()), (Some(0), Some(2)));
        assert_eq!(declared(&doc), ["Busy"]);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "NS");
    }
}
