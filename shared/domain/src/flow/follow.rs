//! Following placed orders (docs/DESIGN.md §13): read what the exchange reports about an order and record it if it
//! moves the recorded fill forward, with the ORDER EXECUTED outbox row of the increment in the same write. The
//! orchestrator follows each order once right after placing it; the sweeper follows every order not yet final on
//! each run. Two readers of one order (two containers, a retry) race on the fill's version: one records, the other
//! changes nothing — so one message per increment, whoever read it.

use chrono::Duration;
use rust_decimal::Decimal;

use crate::order::{Fill, FillUpdate, OrderStatus, PlacedOrder};
use crate::order::{IntentStatus, OrderIntent};
use crate::outbox::{AlertKind, AlertRecord, AlertStatus};
use crate::ports::{Clock, Exchange, Notifier, StoreError, Stores};

/// What following one order did.
#[derive(Debug, Clone, PartialEq)]
pub enum Followed {
    /// Not an order to follow: not placed, or its fill is final already.
    Final,
    /// The exchange reported nothing new.
    Unchanged(OrderStatus),
    /// A report moved the fill forward and was recorded (with its ORDER EXECUTED row when it filled more).
    /// `intent`: the intent as stored now, with that fill (the next step needs no read: the write just made it).
    Recorded {
        status: OrderStatus,
        executed: Option<Box<AlertRecord>>,
        intent: Box<OrderIntent>,
    },
    /// Another reader recorded first: nothing written.
    Raced,
    /// The exchange does not know the order (yet).
    NotFound,
    /// The exchange could not be read, or answered something impossible: tried again on the next run.
    Unreadable(String),
}

/// Totals of a pass over many orders (the sweeper's run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FollowTotals {
    pub looked_up: usize,
    pub recorded: usize,
    pub executed_messages: usize,
    pub unchanged: usize,
    pub not_found: usize,
    pub unreadable: usize,
    pub raced: usize,
}

pub struct Follower<'a> {
    /// The intents and the outbox.
    pub stores: Stores<'a>,
    pub exchange: &'a dyn Exchange,
    pub notifier: &'a dyn Notifier,
    pub clock: &'a dyn Clock,
}

impl Follower<'_> {
    /// Reads one order's report and records it if it moves the fill forward; an ORDER EXECUTED row it wrote is
    /// sent at once (a failed send leaves it PENDING for the sweeper).
    pub async fn follow(&self, intent: &OrderIntent) -> Result<Followed, StoreError> {
        let followed = self.record(intent).await?;
        if let Followed::Recorded {
            executed: Some(alert), ..
        } = &followed
        {
            crate::flow::deliver::deliver(self.stores.alerts, self.notifier, self.clock, alert).await?;
        }
        Ok(followed)
    }

    async fn record(&self, intent: &OrderIntent) -> Result<Followed, StoreError> {
        let prev = intent.fill.as_ref();
        if intent.status != IntentStatus::OrderPlaced || prev.is_some_and(|f| f.status.is_terminal()) {
            return Ok(Followed::Final);
        }
        let reported = match self.exchange.order_detail(&PlacedOrder::of(intent)).await {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(Followed::NotFound),
            Err(e) => return Ok(Followed::Unreadable(e.to_string())),
        };
        if let Err(why) = reported.check() {
            tracing::error!(idempotency_key = %intent.idempotency_key, reason = %why, "impossible order report ignored");
            return Ok(Followed::Unreadable(why));
        }
        let Some(fill) = Fill::next(prev, &reported, self.clock.now()) else {
            return Ok(Followed::Unchanged(reported.status));
        };
        let executed = fill.increment_since(prev).map(|inc| executed_row(intent, &fill, &inc));
        let update = FillUpdate {
            key: intent.idempotency_key.clone(),
            symbol: intent.symbol.clone(),
            seen_version: prev.map_or(0, |p| p.version),
            held_delta: fill.held_delta(prev, &intent.symbol, intent.side),
            alert: executed.clone(),
            keeps_open: intent.side == crate::ids::Side::Buy && fill.filled_quantity > Decimal::ZERO,
            fill,
        };
        if !self.stores.intents.record_fill(&update).await? {
            return Ok(Followed::Raced);
        }
        tracing::info!(idempotency_key = %intent.idempotency_key, status = %update.fill.status,
            filled_quantity = %update.fill.filled_quantity, average_price = %update.fill.average_price,
            fee = %update.fill.fee, fee_currency = %update.fill.fee_currency, "order fill recorded");
        let mut recorded = intent.clone();
        recorded.fill = Some(update.fill.clone());
        Ok(Followed::Recorded {
            status: update.fill.status,
            executed: executed.map(Box::new),
            intent: Box::new(recorded),
        })
    }

    /// [`Follower::follow_open`] over a window's intents and every order still open whatever its age (the store's
    /// open orders, read once): the reconciler's lookups. An order in both is followed once.
    pub async fn follow_window_and_open<'i>(
        &self,
        window: impl IntoIterator<Item = &'i OrderIntent>,
        parallel: usize,
    ) -> Result<FollowTotals, StoreError> {
        let window: Vec<&OrderIntent> = window.into_iter().collect();
        let open = self.stores.intents.open_orders().await?;
        let older = open
            .iter()
            .filter(|o| !window.iter().any(|w| w.idempotency_key == o.idempotency_key));
        self.follow_open(window.iter().copied().chain(older), parallel).await
    }

    /// [`Follower::follow_open`], then resends the ORDER EXECUTED rows of earlier increments still PENDING after
    /// `grace` (the sweeper resends those with every other outbox row instead).
    pub async fn follow_all<'i>(
        &self,
        intents: impl IntoIterator<Item = &'i OrderIntent>,
        parallel: usize,
        grace: Duration,
    ) -> Result<FollowTotals, StoreError> {
        let intents: Vec<&OrderIntent> = intents.into_iter().collect();
        let mut t = self.follow_open(intents.iter().copied(), parallel).await?;
        t.executed_messages += self.resend_executed(&intents, grace).await?;
        Ok(t)
    }

    /// Follows every order of `intents` that is placed and not final, `parallel` lookups at a time.
    pub async fn follow_open<'i>(
        &self,
        intents: impl IntoIterator<Item = &'i OrderIntent>,
        parallel: usize,
    ) -> Result<FollowTotals, StoreError> {
        use futures::stream::{self, StreamExt, TryStreamExt};
        let open: Vec<&OrderIntent> = intents.into_iter().filter(|i| is_open(i)).collect();
        let results: Vec<Followed> = stream::iter(open.iter().map(|i| self.follow(i)))
            .buffer_unordered(parallel.max(1))
            .try_collect()
            .await?;
        let mut t = FollowTotals {
            looked_up: open.len(),
            ..FollowTotals::default()
        };
        for r in &results {
            match r {
                Followed::Recorded { executed, .. } => {
                    t.recorded += 1;
                    t.executed_messages += usize::from(executed.is_some());
                }
                Followed::Unchanged(_) | Followed::Final => t.unchanged += 1,
                Followed::NotFound => t.not_found += 1,
                Followed::Unreadable(_) => t.unreadable += 1,
                Followed::Raced => t.raced += 1,
            }
        }
        Ok(t)
    }

    /// Sends again every ORDER EXECUTED row of these intents still PENDING after `grace`; how many went out.
    pub async fn resend_executed(&self, intents: &[&OrderIntent], grace: Duration) -> Result<usize, StoreError> {
        let ids: Vec<String> = intents.iter().flat_map(|i| executed_ids(i)).collect();
        let mut sent = 0;
        let now = self.clock.now();
        for chunk in ids.chunks(100) {
            for row in self.stores.alerts.get_many(chunk).await? {
                if row.status == AlertStatus::Pending && now - row.created_at >= grace {
                    sent += usize::from(
                        crate::flow::deliver::deliver(self.stores.alerts, self.notifier, self.clock, &row)
                            .await?
                            .is_some(),
                    );
                }
            }
        }
        Ok(sent)
    }
}

/// An order to read again: placed, and its fill not final.
pub fn is_open(intent: &OrderIntent) -> bool {
    intent.status == IntentStatus::OrderPlaced && !intent.fill.as_ref().is_some_and(|f| f.status.is_terminal())
}

/// The ids of every ORDER EXECUTED row an intent's recorded fill implies.
pub fn executed_ids(intent: &OrderIntent) -> Vec<String> {
    let n = intent.fill.as_ref().map_or(0, |f| f.increments);
    (1..=n)
        .map(|k| AlertRecord::executed_id(&intent.idempotency_key, k))
        .collect()
}

fn executed_row(intent: &OrderIntent, fill: &Fill, inc: &crate::order::fill::Increment) -> AlertRecord {
    AlertRecord {
        alert_id: AlertRecord::executed_id(&intent.idempotency_key, fill.increments),
        kind: AlertKind::OrderExecuted,
        symbol: intent.symbol.clone(),
        side: intent.side,
        text: crate::messages::order_executed_text(intent, fill, inc),
        status: AlertStatus::Pending,
        telegram_message_id: None,
        attempts: 0,
        last_error: None,
        created_at: fill.updated_at,
        sent_at: None,
    }
}

/// The quantity step below which a remaining position is dust (closed): one unit of the last of `decimals` places.
pub fn dust(decimals: u32) -> Decimal {
    Decimal::new(1, decimals.min(28))
}
