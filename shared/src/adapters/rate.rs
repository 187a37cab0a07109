//! A request budget: at most `count` requests in any `window` (a sliding log of the last `count` send times);
//! callers wait for their turn. One per process and budgeted endpoint, so every task of a container shares it.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// `count` requests per `window`, written `90/1s` or `7/100ms` (settings: `PUBLIC_API_BUDGET`,
/// `CREATE_ORDER_BUDGET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub count: usize,
    pub window: Duration,
}

impl Budget {
    pub const fn per_second(count: usize) -> Self {
        Budget {
            count,
            window: Duration::from_secs(1),
        }
    }

    /// Requests per second at most (the floor of a run of `n` requests is `n / per_second`).
    pub fn per_second_f64(&self) -> f64 {
        self.count as f64 / self.window.as_secs_f64()
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}ms", self.count, self.window.as_millis())
    }
}

impl FromStr for Budget {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("{raw:?} is not a budget like 90/1s or 7/100ms (a count ≥ 1 per a window of 10 ms to 60 s)");
        let (count, window) = raw.trim().split_once('/').ok_or_else(bad)?;
        let count: usize = count.trim().parse().map_err(|_| bad())?;
        let window = window.trim();
        let window = if let Some(ms) = window.strip_suffix("ms") {
            Duration::from_millis(ms.parse().map_err(|_| bad())?)
        } else if let Some(s) = window.strip_suffix('s') {
            Duration::from_secs(s.parse().map_err(|_| bad())?)
        } else {
            return Err(bad());
        };
        if count == 0 || window < Duration::from_millis(10) || window > Duration::from_secs(60) {
            return Err(bad());
        }
        Ok(Budget { count, window })
    }
}

pub struct RateLimiter {
    budget: Budget,
    sent: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    pub fn new(budget: Budget) -> Self {
        Self {
            budget,
            sent: Mutex::new(VecDeque::with_capacity(budget.count)),
        }
    }

    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Waits until one more request fits in the budget, and counts it as sent now.
    pub async fn acquire(&self) {
        let window = self.budget.window;
        loop {
            let wait = {
                let mut sent = self.sent.lock().await;
                let now = Instant::now();
                while sent.front().is_some_and(|t| now.duration_since(*t) >= window) {
                    sent.pop_front();
                }
                if sent.len() < self.budget.count {
                    sent.push_back(now);
                    return;
                }
                sent.front()
                    .map_or(Duration::ZERO, |oldest| window - now.duration_since(*oldest))
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_and_refuse_what_they_cannot_keep() {
        assert_eq!("90/1s".parse(), Ok(Budget::per_second(90)));
        assert_eq!(
            " 7 / 100ms ".parse::<Budget>().map(|b| (b.count, b.window)),
            Ok((7, Duration::from_millis(100)))
        );
        for bad in ["0/1s", "7", "7/100", "7/1ms", "7/2m", "x/1s", "7/61s"] {
            assert!(bad.parse::<Budget>().is_err(), "{bad}");
        }
        assert_eq!(Budget::per_second(90).per_second_f64(), 90.0);
    }

    /// 7 per 100 ms: 21 requests take two refills (≥ 200 ms), never 8 in one window.
    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_budget_in_any_window() {
        let limiter = RateLimiter::new("7/100ms".parse().unwrap());
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..21 {
            limiter.acquire().await;
            at.push(start.elapsed());
        }
        assert!(at[20] >= Duration::from_millis(200), "{:?}", at[20]);
        for (i, t) in at.iter().enumerate() {
            let in_window = at[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_millis(100))
                .count();
            assert!(in_window <= 7, "{in_window} requests within 100 ms of {t:?}");
        }
    }
}
