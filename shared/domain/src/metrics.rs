//! CloudWatch Embedded Metric Format: one JSON document per line on stdout, from which CloudWatch extracts
//! metrics. Counts only, no dimensions — what the sweeper and the evaluator publish.

use serde_json::{json, Value};

/// An EMF document in `namespace` with these counts (zeros included, so alarms always see data).
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

/// Adds one count to an EMF document: its value and its declaration.
pub fn add_count(doc: &mut Value, name: &str, value: usize) {
    doc[name] = json!(value);
    if let Some(list) = doc
        .pointer_mut("/_aws/CloudWatchMetrics/0/Metrics")
        .and_then(Value::as_array_mut)
    {
        list.push(json!({ "Name": name, "Unit": "Count" }));
    }
}
