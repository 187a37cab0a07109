//! Record times as the tables store them.

use chrono::{DateTime, Utc};

/// `YYYY-MM-DD` of a record time (UTC).
pub fn day_of(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// RFC 3339 with milliseconds, `Z` suffix: sorts lexicographically in time order, which the `by_day` index relies on.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
