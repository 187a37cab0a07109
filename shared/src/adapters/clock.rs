//! Clocks: the system clock for Lambda, and a replay clock whose market time is stepped through history while
//! record time stays the wall clock (docs/DESIGN.md §2).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::ports::Clock;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn market_now_ms(&self) -> i64 {
        Utc::now().timestamp_millis()
    }
}

/// Market time set by whoever drives the replay; record time is the wall clock.
#[derive(Debug, Clone, Default)]
pub struct ReplayClock {
    market_ms: Arc<AtomicI64>,
}

impl ReplayClock {
    pub fn set_market_ms(&self, ms: i64) {
        self.market_ms.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ReplayClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn market_now_ms(&self) -> i64 {
        self.market_ms.load(Ordering::SeqCst)
    }
}
