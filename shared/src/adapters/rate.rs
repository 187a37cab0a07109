//! A request budget: at most `count` requests in any `window`; callers wait for their turn. One per process and
//! budgeted endpoint, so every task of a container shares it.
//!
//! Two paces keep it:
//! - [`Pace::Spaced`]: one request every `window ÷ count`, never closer. The exchange counts *arrivals*, not sends;
//!   evenly spaced sends stay within its limit even when arrivals jitter, as long as the budget is below the limit
//!   (95 of 100 a second tolerates ≈ 50 ms of jitter). This is the public API's pace.
//! - [`Pace::Burst`]: a sliding log of the last `count` send times; up to `count` go at once, the next `count` one
//!   window and [`ARRIVAL_MARGIN`] later. This suits a handler that waits for a whole batch (the orchestrator: a
//!   batch of 5 goes at once, not in five spaced slots). The margin covers the spread between a burst's sends and
//!   their arrivals (signing, connecting, a container starved of CPU): three containers at 5 per 100 ms met 42901s
//!   with 0 ms, in 1 of 10 bursts of 300 with 5 ms, under two busy loops on two cores with 10 ms; none with 20 ms
//!   (`tests/tests/budgets.rs`, docs/PERFORMANCE.md, "Scale").

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// A burst's window is this much longer than its budget's: the time a request may take from its turn to its arrival,
/// more than the first of its burst.
pub const ARRIVAL_MARGIN: Duration = Duration::from_millis(20);

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

/// How a [`RateLimiter`] spreads its budget over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    Spaced,
    Burst,
}

pub struct RateLimiter {
    budget: Budget,
    turns: Mutex<Turns>,
}

/// What a limiter remembers, by pace.
enum Turns {
    /// The earliest time of the next request (None before the first).
    Spaced(Option<Instant>),
    /// The send times of the last `count` requests.
    Burst(VecDeque<Instant>),
}

impl RateLimiter {
    pub fn new(budget: Budget, pace: Pace) -> Self {
        let turns = match pace {
            Pace::Spaced => Turns::Spaced(None),
            Pace::Burst => Turns::Burst(VecDeque::with_capacity(budget.count)),
        };
        Self {
            budget,
            turns: Mutex::new(turns),
        }
    }

    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Waits until one more request fits in the budget, and counts it as sent then.
    pub async fn acquire(&self) {
        loop {
            // (when, whether that turn is taken): a spaced turn is taken at once for later; a full burst waits.
            let (at, taken) = {
                let mut turns = self.turns.lock().await;
                let now = Instant::now();
                match &mut *turns {
                    Turns::Spaced(next) => {
                        let at = next.map_or(now, |n| n.max(now));
                        *next = Some(at + self.gap());
                        (at, true)
                    }
                    Turns::Burst(sent) => match self.burst_turn(sent, now) {
                        None => return,
                        Some(at) => (at, false),
                    },
                }
            };
            tokio::time::sleep_until(at).await;
            if taken {
                return;
            }
        }
    }

    /// The gap between two spaced requests: `window ÷ count`, rounded up to the nanosecond.
    fn gap(&self) -> Duration {
        let nanos = self.budget.window.as_nanos();
        let count = self.budget.count as u128;
        Duration::from_nanos(u64::try_from(nanos.div_ceil(count)).unwrap_or(u64::MAX))
    }

    /// A burst's turn at `now`: None when one more fits the window and its margin (counted as sent now); else the
    /// time the oldest send leaves it.
    fn burst_turn(&self, sent: &mut VecDeque<Instant>, now: Instant) -> Option<Instant> {
        let window = self.budget.window + ARRIVAL_MARGIN;
        while sent.front().is_some_and(|t| now.duration_since(*t) >= window) {
            sent.pop_front();
        }
        if sent.len() < self.budget.count {
            sent.push_back(now);
            return None;
        }
        sent.front().map(|oldest| *oldest + window)
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

    /// The send times of `n` requests through `limiter`, from its first.
    async fn send_times(limiter: &RateLimiter, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..n {
            limiter.acquire().await;
            at.push(start.elapsed());
        }
        at
    }

    fn most_in_any_window(at: &[Duration], window: Duration) -> usize {
        (0..at.len())
            .map(|i| at[i..].iter().take_while(|u| **u < at[i] + window).count())
            .max()
            .unwrap_or(0)
    }

    /// 7 per 100 ms in a burst: 21 requests take two refills (≥ 2 × 120 ms), never 8 in one window and its margin.
    #[tokio::test(start_paused = true)]
    async fn a_burst_never_has_more_than_the_budget_in_any_window() {
        let limiter = RateLimiter::new("7/100ms".parse().unwrap(), Pace::Burst);
        let at = send_times(&limiter, 21).await;
        assert!(at[6] < Duration::from_millis(1), "the first 7 go at once: {:?}", at[6]);
        assert!(at[20] >= Duration::from_millis(240), "{:?}", at[20]);
        assert_eq!(most_in_any_window(&at, Duration::from_millis(100) + ARRIVAL_MARGIN), 7);
    }

    /// 95 a second, spaced: one every 10.53 ms, so 95 in any second, and still at most 100 in any second when each
    /// arrival is late by up to 50 ms in any pattern (here: alternately on time and 50 ms late).
    #[tokio::test(start_paused = true)]
    async fn spaced_requests_keep_the_limit_under_arrival_jitter() {
        let limiter = RateLimiter::new(Budget::per_second(95), Pace::Spaced);
        let at = send_times(&limiter, 400).await;
        assert_eq!(limiter.gap(), Duration::from_nanos(10_526_316));
        // The timer wakes on whole milliseconds; the schedule itself does not drift.
        assert!(at.windows(2).all(|w| w[1] - w[0] >= Duration::from_millis(10)));
        assert!(at[399] >= Duration::from_nanos(399 * 10_526_316));
        assert_eq!(most_in_any_window(&at, Duration::from_secs(1)), 95);
        for late in [Duration::from_millis(50), Duration::from_millis(25)] {
            let mut arrivals: Vec<Duration> = at
                .iter()
                .enumerate()
                .map(|(i, t)| if i % 2 == 0 { *t + late } else { *t })
                .collect();
            arrivals.sort();
            let most = most_in_any_window(&arrivals, Duration::from_secs(1));
            assert!(most <= 100, "{most} arrivals in one second with {late:?} of jitter");
        }
        // A spread of 5 ms more than the margin breaks a burst at the same budget: this is why the public API is
        // spaced.
        let burst = RateLimiter::new(Budget::per_second(95), Pace::Burst);
        let at = send_times(&burst, 400).await;
        let mut arrivals: Vec<Duration> = at
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if i < 95 {
                    *t + ARRIVAL_MARGIN + Duration::from_millis(5)
                } else {
                    *t
                }
            })
            .collect();
        arrivals.sort();
        assert!(most_in_any_window(&arrivals, Duration::from_secs(1)) > 100);
    }
}
