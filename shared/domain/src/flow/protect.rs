//! Protecting filled BUYs (docs/DESIGN.md §14): the steps that place, follow and close a position's protection,
//! each one conditional write of the BUY intent's protection record (`IntentStore::record_protection`) with its
//! message's outbox row and the change of the held quantity in the same transaction. The orchestrator protects the
//! order it just placed once its fill is final; the sweeper runs every entry whose protection is not final on each
//! run. Two workers on one entry race on the record's version: one writes, the other changes nothing.
//!
//! The OCO is sent only by the worker whose PLACING write won (it holds a lease); after a lost answer, the next
//! worker looks the legs up by client_oid before it sends again, so a position never has two protections.

use chrono::Duration;
use rust_decimal::Decimal;

use crate::decision::ReasonCode;
use crate::ids::Side;
use crate::order::intent::{is_entry, needs_work};
use crate::order::protection::{LegFill, OnFailure, Plan, ProtectionSettings, ProtectionUpdate, MAX_ATTEMPTS};
use crate::order::{Leg, OcoReport, OrderIntent, PlacedOrder, Protection, ProtectionStatus, Reported};
use crate::outbox::{AlertId, AlertKind, AlertRecord, AlertStatus, ProtectionEvent};
use crate::ports::{Clock, Exchange, ExchangeError, Notifier, OrderRequest, StoreError, Stores};

/// How long the worker that claimed a send owns it before another may look it up and send again.
pub const LEASE: Duration = Duration::seconds(30);

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub enum Protected {
    /// Not an entry to protect, or its protection is final.
    Final,
    /// Recorded: the protection now stands at this status.
    Moved(ProtectionStatus),
    /// Nothing new on the exchange.
    Unchanged,
    /// Another worker owns the send (its lease runs), or wrote first.
    Busy,
    /// The exchange could not be read or the send's outcome is unknown: the next run tries again.
    Retry(String),
}

/// Whether a SELL signal may sell: every protection of the symbol let go of its coins, or not yet (why).
#[derive(Debug, Clone, PartialEq)]
pub enum Release {
    Done,
    Pending(String),
}

/// Totals of a pass over many entries (the sweeper's run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProtectTotals {
    pub looked_at: usize,
    pub moved: usize,
    /// Of them, protections that failed in this pass: no stop could be placed (a flatten began, or FAILED).
    pub failed: usize,
    pub unchanged: usize,
    pub busy: usize,
    pub retry: usize,
}

pub struct Protector<'a> {
    /// The intents, the outbox, and the control row (the positions' held quantities).
    pub stores: Stores<'a>,
    pub exchange: &'a dyn Exchange,
    /// Where messages go at once; None (the orchestrator's SELL path): left PENDING in the outbox for the
    /// sweeper's resend.
    pub notifier: Option<&'a dyn Notifier>,
    pub clock: &'a dyn Clock,
    /// Decimal places of a quantity (the orchestrator's `QUANTITY_DECIMALS`): less than one step is dust.
    pub quantity_decimals: u32,
}

impl Protector<'_> {
    /// Moves one entry's protection as far as it goes now (at most a few writes), sending each written message.
    pub async fn protect(&self, intent: &OrderIntent) -> Result<Protected, StoreError> {
        if !needs_work(intent) {
            return Ok(Protected::Final);
        }
        let out = match &intent.protection {
            None => self.start(intent).await,
            Some(p) => match p.status {
                ProtectionStatus::Placing => self.resume(intent, p).await,
                ProtectionStatus::Active | ProtectionStatus::Canceling => self.follow_legs(intent, p).await,
                ProtectionStatus::Flattening => self.follow_flatten(intent, p).await,
                _ => Ok(Protected::Final),
            },
        };
        if let Ok(Protected::Retry(why)) = &out {
            tracing::warn!(idempotency_key = %intent.idempotency_key, reason = %why, "protection step deferred");
        }
        out
    }

    /// [`Protector::protect`] over many intents (those that are not entries needing work are passed over),
    /// `parallel` at a time.
    pub async fn protect_all<'i>(
        &self,
        intents: impl IntoIterator<Item = &'i OrderIntent>,
        parallel: usize,
    ) -> Result<ProtectTotals, StoreError> {
        use futures::stream::{self, StreamExt, TryStreamExt};
        let due: Vec<&OrderIntent> = intents.into_iter().filter(|i| needs_work(i)).collect();
        let results: Vec<Protected> = stream::iter(due.iter().map(|i| self.protect(i)))
            .buffer_unordered(parallel.max(1))
            .try_collect()
            .await?;
        let mut t = ProtectTotals {
            looked_at: due.len(),
            ..ProtectTotals::default()
        };
        for r in results {
            match r {
                Protected::Moved(status) => {
                    t.moved += 1;
                    t.failed += usize::from(matches!(
                        status,
                        ProtectionStatus::Flattening | ProtectionStatus::Failed
                    ));
                }
                Protected::Unchanged | Protected::Final => t.unchanged += 1,
                Protected::Busy => t.busy += 1,
                Protected::Retry(_) => t.retry += 1,
            }
        }
        Ok(t)
    }

    async fn start(&self, intent: &OrderIntent) -> Result<Protected, StoreError> {
        let settings = self.stores.control.protection_settings(&intent.symbol).await?;
        let fill = intent.fill.as_ref().filter(|_| is_entry(intent));
        let Some(fill) = fill else {
            return Ok(Protected::Final);
        };
        let now = self.clock.now();
        let plan = Plan::for_fill(fill, &intent.symbol, &settings, self.quantity_decimals);
        let dust = crate::flow::follow::dust(self.quantity_decimals);
        let status = match &plan {
            _ if !settings.enabled => ProtectionStatus::Off,
            Some(p) if p.quantity >= dust => ProtectionStatus::Placing,
            _ => ProtectionStatus::Dust,
        };
        let lease = (now + LEASE).timestamp_millis();
        let p = Protection::first(
            status,
            &plan.unwrap_or_default(),
            self.clock.market_now_ms(),
            now,
            lease,
        );
        if !self.write(intent, 0, &p, None, Decimal::ZERO).await? {
            return Ok(Protected::Busy);
        }
        if status != ProtectionStatus::Placing {
            tracing::info!(idempotency_key = %intent.idempotency_key, status = %status, "no protection to place");
            return Ok(Protected::Moved(status));
        }
        self.send(intent, p, &settings).await
    }

    /// A PLACING record: its owner is still sending (lease), or it crashed or lost the answer — then the legs are
    /// looked up first, and the OCO sent again only when the exchange knows neither.
    async fn resume(&self, intent: &OrderIntent, p: &Protection) -> Result<Protected, StoreError> {
        let now = self.clock.now();
        if now.timestamp_millis() < p.lease_until_ms {
            return Ok(Protected::Busy);
        }
        let report = match self.exchange.oco_detail(&p.oco(intent)).await {
            Ok(r) => r,
            Err(e) => return Ok(Protected::Retry(format!("looking the legs up: {e}"))),
        };
        if report.take_profit.is_some() || report.stop_loss.is_some() {
            // The OCO was placed: the first answer was lost. Record it as ACTIVE with its message, then follow it.
            let next = Protection {
                placed_at: Some(now),
                ..p.next(ProtectionStatus::Active, now)
            };
            let alert = placed_row(intent, &next);
            if !self
                .write_and_say(intent, p.version, &next, Some(&alert), Decimal::ZERO)
                .await?
            {
                return Ok(Protected::Busy);
            }
            tracing::info!(idempotency_key = %intent.idempotency_key, "protection found by lookup after a lost answer");
            return match self.follow_legs(intent, &next).await? {
                Protected::Unchanged => Ok(Protected::Moved(ProtectionStatus::Active)),
                other => Ok(other),
            };
        }
        let taken = Protection {
            lease_until_ms: (now + LEASE).timestamp_millis(),
            ..p.next(ProtectionStatus::Placing, now)
        };
        if !self.write(intent, p.version, &taken, None, Decimal::ZERO).await? {
            return Ok(Protected::Busy);
        }
        let settings = self.stores.control.protection_settings(&intent.symbol).await?;
        self.send(intent, taken, &settings).await
    }

    /// Sends the OCO (this worker owns the PLACING record `p`), retrying rejections up to [`MAX_ATTEMPTS`] sends in
    /// all; then the failure path.
    async fn send(
        &self,
        intent: &OrderIntent,
        mut p: Protection,
        s: &ProtectionSettings,
    ) -> Result<Protected, StoreError> {
        loop {
            let sent = self.exchange.create_oco(&p.oco(intent)).await;
            let now = self.clock.now();
            let seen = p.version;
            let mut next = Protection {
                attempts: p.attempts + 1,
                ..p.next(p.status, now)
            };
            match sent {
                Ok(ack) => return self.placed(intent, seen, next, ack).await,
                Err(ExchangeError::Rejected {
                    code: ReasonCode::BelowMinOrderSize,
                    message,
                    ..
                }) => {
                    // Less than one of the exchange's quantity steps: dust, closed, never protected.
                    next.status = ProtectionStatus::Dust;
                    next.last_error = Some(message);
                    return self.moved(intent, seen, &next).await;
                }
                Err(ExchangeError::Rejected { message, .. }) => {
                    next.last_error = Some(message.clone());
                    tracing::warn!(idempotency_key = %intent.idempotency_key, attempt = next.attempts, reason = %message,
                        "protection rejected");
                    if next.attempts >= MAX_ATTEMPTS {
                        return self.fail(intent, next, s, seen).await;
                    }
                    if !self.write(intent, seen, &next, None, Decimal::ZERO).await? {
                        return Ok(Protected::Busy);
                    }
                    p = next;
                }
                Err(e) => {
                    // Sent or not, nobody knows: the lease runs out and the next worker looks the legs up first.
                    next.last_error = Some(e.to_string());
                    next.lease_until_ms = now.timestamp_millis();
                    self.write(intent, seen, &next, None, Decimal::ZERO).await?;
                    return Ok(Protected::Retry(format!("sending the OCO: {e}")));
                }
            }
        }
    }

    /// The OCO answered: ACTIVE with what was sent, and SL/TP PLACED.
    async fn placed(
        &self,
        intent: &OrderIntent,
        seen: u32,
        mut next: Protection,
        ack: crate::order::OcoAck,
    ) -> Result<Protected, StoreError> {
        next.status = ProtectionStatus::Active;
        next.placed_at = Some(next.updated_at);
        next.list_id = Some(ack.list_id);
        (next.quantity, next.stop_price, next.take_profit_price) =
            (ack.quantity, ack.stop_price, ack.take_profit_price);
        next.last_error = None;
        let alert = placed_row(intent, &next);
        if !self
            .write_and_say(intent, seen, &next, Some(&alert), Decimal::ZERO)
            .await?
        {
            return Ok(Protected::Busy);
        }
        tracing::info!(idempotency_key = %intent.idempotency_key, stop_price = %next.stop_price,
            take_profit_price = %next.take_profit_price, quantity = %next.quantity, "protection placed");
        Ok(Protected::Moved(ProtectionStatus::Active))
    }

    /// Writes `next` over version `seen`, with no message: Moved to its status, or Busy when another worker wrote
    /// first.
    async fn moved(&self, intent: &OrderIntent, seen: u32, next: &Protection) -> Result<Protected, StoreError> {
        Ok(if self.write(intent, seen, next, None, Decimal::ZERO).await? {
            Protected::Moved(next.status)
        } else {
            Protected::Busy
        })
    }

    /// No stop could be placed: flatten with a market SELL of the protected quantity, or (setting `alert`) say so.
    async fn fail(
        &self,
        intent: &OrderIntent,
        mut next: Protection,
        s: &ProtectionSettings,
        seen: u32,
    ) -> Result<Protected, StoreError> {
        let now = self.clock.now();
        next.status = match s.on_failure {
            OnFailure::Flatten => ProtectionStatus::Flattening,
            OnFailure::Alert => ProtectionStatus::Failed,
        };
        next.lease_until_ms = (now + LEASE).timestamp_millis();
        let alert = failed_row(intent, &next);
        if !self
            .write_and_say(intent, seen, &next, Some(&alert), Decimal::ZERO)
            .await?
        {
            return Ok(Protected::Busy);
        }
        tracing::error!(idempotency_key = %intent.idempotency_key, status = %next.status,
            reason = next.last_error.as_deref().unwrap_or(""), "protection failed");
        if next.status == ProtectionStatus::Flattening {
            return self.send_flatten(intent, &next).await;
        }
        Ok(Protected::Moved(next.status))
    }

    async fn send_flatten(&self, intent: &OrderIntent, p: &Protection) -> Result<Protected, StoreError> {
        let Some(req) = flatten_request(intent, p) else {
            return Ok(Protected::Retry(
                "the entry has no recorded size to flatten from".into(),
            ));
        };
        match self.exchange.place_order(&req).await {
            Ok(_) => Ok(Protected::Moved(ProtectionStatus::Flattening)),
            Err(ExchangeError::Rejected { message, .. }) => {
                // Refused for good: FAILED, the position held with no stop (UNPROTECTED_POSITION says so until an
                // operator acts; the PROTECTION FAILED message went out with the FLATTENING write).
                tracing::error!(idempotency_key = %intent.idempotency_key, reason = %message,
                    "flatten SELL refused: the position stays unprotected");
                let failed = Protection {
                    last_error: Some(format!("flatten refused: {message}")),
                    ..p.next(ProtectionStatus::Failed, self.clock.now())
                };
                self.moved(intent, p.version, &failed).await
            }
            Err(e) => Ok(Protected::Retry(format!("sending the flatten SELL: {e}"))),
        }
    }

    /// A FLATTENING record: read the market SELL; not found after the lease: send it (again, same client_oid).
    async fn follow_flatten(&self, intent: &OrderIntent, p: &Protection) -> Result<Protected, StoreError> {
        let order = flatten_order(intent, p);
        let report = match self.exchange.order_detail(&order).await {
            Ok(Some(r)) => r,
            Ok(None) if self.clock.now().timestamp_millis() >= p.lease_until_ms => {
                return self.send_flatten(intent, p).await
            }
            Ok(None) => return Ok(Protected::Unchanged),
            Err(e) => return Ok(Protected::Retry(format!("reading the flatten SELL: {e}"))),
        };
        let mut next = p.clone();
        if !self.advance(&mut next, Leg::Flatten, &report)? {
            return Ok(Protected::Unchanged);
        }
        if report.status.is_terminal() {
            next.status = ProtectionStatus::Closed;
        }
        self.record_legs(intent, p, next).await
    }

    /// An ACTIVE record: read both legs; record what filled; when one leg filled and the other is still live,
    /// cancel it (asynchronous: the next read confirms); CLOSED once every leg is final and something filled.
    async fn follow_legs(&self, intent: &OrderIntent, p: &Protection) -> Result<Protected, StoreError> {
        let oco = p.oco(intent);
        let report = match self.exchange.oco_detail(&oco).await {
            Ok(r) => r,
            Err(e) => return Ok(Protected::Retry(format!("reading the legs: {e}"))),
        };
        let mut next = p.clone();
        let mut moved = false;
        for (leg, r) in legs(&report) {
            if let Some(r) = r {
                moved |= self.advance(&mut next, leg, r)?;
            }
        }
        let final_of = |r: &Option<Reported>| r.as_ref().is_some_and(|r| r.status.is_terminal());
        let filled = next.fills.iter().any(|f| f.filled_quantity > Decimal::ZERO);
        let all_final = final_of(&report.take_profit) && final_of(&report.stop_loss);
        let canceling = p.status == ProtectionStatus::Canceling;
        if (filled || canceling) && !all_final {
            // The exchange cancels the sibling of a filled OCO leg itself; this catches one it did not. A SELL
            // signal's cancel is asked again until both legs are final (a repeated cancel of a final leg is harmless).
            for (leg, r) in legs(&report) {
                if !final_of(r) && (canceling || r.as_ref().is_some_and(|r| r.filled_quantity.is_zero())) {
                    if let Err(e) = self.exchange.cancel_leg(&oco, leg).await {
                        tracing::warn!(idempotency_key = %intent.idempotency_key, leg = %leg, error = %e,
                            "cancel of the other leg not confirmed; read again next run");
                    }
                }
            }
        }
        if all_final && !filled && !canceling {
            return self.lost(intent, p).await;
        }
        if all_final && (filled || canceling) {
            // Sold whole by a leg: CLOSED. Cancelled with a part sold: the rest is the SELL signal's to sell.
            let whole = next.sold() >= next.quantity;
            next.status = if canceling && !whole {
                ProtectionStatus::Released
            } else {
                ProtectionStatus::Closed
            };
            moved = true;
        }
        if !moved {
            return Ok(Protected::Unchanged);
        }
        self.record_legs(intent, p, next).await
    }

    /// Both legs of an ACTIVE protection ended without a fill and nobody here asked (cancelled by hand, expired):
    /// the position has no stop. FAILED with PROTECTION FAILED, and UNPROTECTED_POSITION until an operator acts.
    async fn lost(&self, intent: &OrderIntent, p: &Protection) -> Result<Protected, StoreError> {
        let failed = Protection {
            last_error: Some("both legs ended without a fill, not cancelled by this system".into()),
            ..p.next(ProtectionStatus::Failed, self.clock.now())
        };
        let alert = failed_row(intent, &failed);
        if !self
            .write_and_say(intent, p.version, &failed, Some(&alert), Decimal::ZERO)
            .await?
        {
            return Ok(Protected::Busy);
        }
        tracing::error!(idempotency_key = %intent.idempotency_key, "protection lost: both legs ended unfilled");
        Ok(Protected::Moved(ProtectionStatus::Failed))
    }

    /// Moves one leg's recorded fill forward with a report; false when it changes nothing.
    fn advance(&self, p: &mut Protection, leg: Leg, r: &Reported) -> Result<bool, StoreError> {
        if let Err(why) = r.check() {
            tracing::error!(leg = %leg, reason = %why, "impossible leg report ignored");
            return Ok(false);
        }
        let prev = p.fill_of(leg).cloned();
        let Some(f) = LegFill::next(leg, prev.as_ref(), r, self.clock.now()) else {
            return Ok(false);
        };
        if f.filled_quantity.is_zero() && prev.is_none() {
            return Ok(false); // a leg that filled nothing is not kept
        }
        p.fills.retain(|x| x.leg != leg);
        p.fills.push(f);
        p.fills.sort_by_key(|f| f.leg.as_str());
        Ok(true)
    }

    /// Writes the legs' new fills (and CLOSED with its message when it closed); the held quantity loses what they
    /// sold since `prev` (with a base-currency fee).
    async fn record_legs(
        &self,
        intent: &OrderIntent,
        prev: &Protection,
        mut next: Protection,
    ) -> Result<Protected, StoreError> {
        next.version = prev.version + 1;
        next.updated_at = self.clock.now();
        let held_delta = given_up(intent, prev)
            .checked_sub(given_up(intent, &next))
            .unwrap_or_default();
        let alert = (next.status == ProtectionStatus::Closed).then(|| closed_row(intent, &next));
        if !self
            .write_and_say(intent, prev.version, &next, alert.as_ref(), held_delta)
            .await?
        {
            return Ok(Protected::Busy);
        }
        tracing::info!(idempotency_key = %intent.idempotency_key, status = %next.status, sold = %next.sold(),
            "protection fills recorded");
        Ok(Protected::Moved(next.status))
    }

    /// Test only: the PLACING claim of [`Protector::start`] without the send (a worker that died after claiming).
    #[cfg(test)]
    async fn start_claim_only(&self, intent: &OrderIntent) {
        let now = self.clock.now();
        let settings = self.stores.control.protection_settings(&intent.symbol).await.unwrap();
        let plan = Plan::for_fill(intent.fill.as_ref().unwrap(), &intent.symbol, &settings, 8).unwrap();
        let p = Protection::first(
            ProtectionStatus::Placing,
            &plan,
            0,
            now,
            (now + LEASE).timestamp_millis(),
        );
        assert!(self.write(intent, 0, &p, None, Decimal::ZERO).await.unwrap());
    }

    async fn write(
        &self,
        intent: &OrderIntent,
        seen_version: u32,
        p: &Protection,
        alert: Option<&AlertRecord>,
        held_delta: Decimal,
    ) -> Result<bool, StoreError> {
        let update = ProtectionUpdate {
            key: intent.idempotency_key.clone(),
            symbol: intent.symbol.clone(),
            seen_version,
            protection: p.clone(),
            alert: alert.cloned(),
            held_delta,
        };
        self.stores.intents.record_protection(&update).await
    }

    /// [`Protector::write`], then its message sent once the write is in (a failed send leaves the outbox row PENDING
    /// for the sweeper). False: another worker wrote first, nothing sent.
    async fn write_and_say(
        &self,
        intent: &OrderIntent,
        seen_version: u32,
        p: &Protection,
        alert: Option<&AlertRecord>,
        held_delta: Decimal,
    ) -> Result<bool, StoreError> {
        if !self.write(intent, seen_version, p, alert, held_delta).await? {
            return Ok(false);
        }
        if let Some(alert) = alert {
            self.deliver(alert).await?;
        }
        Ok(true)
    }

    async fn deliver(&self, alert: &AlertRecord) -> Result<(), StoreError> {
        if let Some(notifier) = self.notifier {
            crate::flow::deliver::deliver(self.stores.alerts, notifier, self.clock, alert).await?;
        }
        Ok(())
    }

    /// Before a SELL signal sells `symbol` (docs/DESIGN.md §14): every entry of the symbol whose protection holds
    /// the coins lets go of them first — its legs cancelled and confirmed final by reading them, a leg that filled
    /// meanwhile recorded (the held quantity then says what is left to sell). [`Release::Pending`] while a cancel is
    /// not confirmed, an OCO is being placed, or a flatten is running: the SELL waits and is tried again.
    pub async fn release(&self, symbol: &crate::ids::Symbol) -> Result<Release, StoreError> {
        let entries = self.holding(symbol).await?;
        self.release_entries(&entries).await
    }

    /// The entries of `symbol` whose protection is not final: what a SELL signal must release before it sells.
    pub async fn holding(&self, symbol: &crate::ids::Symbol) -> Result<Vec<OrderIntent>, StoreError> {
        Ok(self
            .stores
            .intents
            .open_orders()
            .await?
            .into_iter()
            .filter(|i| &i.symbol == symbol && needs_work(i))
            .collect())
    }

    /// [`Protector::release`] of entries read by [`Protector::holding`].
    pub async fn release_entries(&self, entries: &[OrderIntent]) -> Result<Release, StoreError> {
        let mut pending = Vec::new();
        for intent in entries {
            if let Some(why) = self.release_one(intent).await? {
                pending.push(format!("{}: {why}", intent.idempotency_key));
            }
        }
        Ok(if pending.is_empty() {
            Release::Done
        } else {
            Release::Pending(pending.join("; "))
        })
    }

    /// Whether the exchange knows either leg of a PLACING record (a lost answer). A failed read counts as "maybe":
    /// the caller then goes the cancel way, which reads them again.
    async fn legs_exist(&self, intent: &OrderIntent, p: &Protection) -> bool {
        match self.exchange.oco_detail(&p.oco(intent)).await {
            Ok(r) => r.take_profit.is_some() || r.stop_loss.is_some(),
            Err(_) => true,
        }
    }

    async fn release_one(&self, intent: &OrderIntent) -> Result<Option<String>, StoreError> {
        let now = self.clock.now();
        let Some(p) = &intent.protection else {
            // Not started: released before any OCO exists (the protector's first write then loses the race).
            let mut released = Protection::first(ProtectionStatus::Released, &Plan::default(), 0, now, 0);
            released.cancel_ms = Some(self.clock.market_now_ms());
            let won = self.write(intent, 0, &released, None, Decimal::ZERO).await?;
            return Ok((!won).then(|| "its protection was just started; read again".to_string()));
        };
        let step = match p.status {
            ProtectionStatus::Placing if now.timestamp_millis() < p.lease_until_ms => {
                return Ok(Some("its OCO is being placed".into()))
            }
            ProtectionStatus::Flattening => return Ok(Some("it is being flattened".into())),
            ProtectionStatus::Placing if !self.legs_exist(intent, p).await => {
                // Its sender gave up and the exchange knows neither leg: nothing to cancel.
                let released = Protection {
                    cancel_ms: Some(self.clock.market_now_ms()),
                    ..p.next(ProtectionStatus::Released, now)
                };
                let won = self.write(intent, p.version, &released, None, Decimal::ZERO).await?;
                return Ok((!won).then(|| "its protection moved; read again".to_string()));
            }
            ProtectionStatus::Placing | ProtectionStatus::Active => {
                let canceling = Protection {
                    cancel_ms: Some(self.clock.market_now_ms()),
                    ..p.next(ProtectionStatus::Canceling, now)
                };
                if !self.write(intent, p.version, &canceling, None, Decimal::ZERO).await? {
                    return Ok(Some("its protection moved; read again".into()));
                }
                tracing::info!(idempotency_key = %intent.idempotency_key, "protection cancel asked for a SELL signal");
                self.follow_legs(intent, &canceling).await?
            }
            ProtectionStatus::Canceling => self.follow_legs(intent, p).await?,
            _ => return Ok(None),
        };
        Ok(match step {
            Protected::Moved(s) if s.is_final() => None,
            Protected::Retry(why) => Some(why),
            _ => Some("the cancel of its legs is not confirmed yet".into()),
        })
    }
}

fn legs(r: &OcoReport) -> [(Leg, &Option<Reported>); 2] {
    [(Leg::TakeProfit, &r.take_profit), (Leg::StopLoss, &r.stop_loss)]
}

/// The base quantity the closing orders gave up: sold plus a base-currency fee.
fn given_up(intent: &OrderIntent, p: &Protection) -> Decimal {
    p.fills.iter().fold(Decimal::ZERO, |a, f| {
        let base_fee = if f.fee_currency == crate::money::base_currency(&intent.symbol) {
            f.fee
        } else {
            Decimal::ZERO
        };
        a.checked_add(f.filled_quantity)
            .and_then(|a| a.checked_add(base_fee))
            .unwrap_or(a)
    })
}

/// The market SELL that flattens a position: the protected quantity, sized from the entry's record.
fn flatten_order(intent: &OrderIntent, p: &Protection) -> PlacedOrder {
    PlacedOrder {
        client_oid: Leg::Flatten.client_oid(&intent.idempotency_key),
        symbol: intent.symbol.clone(),
        side: Side::Sell,
        sizing: flatten_sizing(intent, p),
    }
}

fn flatten_sizing(intent: &OrderIntent, p: &Protection) -> Option<crate::money::Sizing> {
    let entry = intent.sizing.as_ref()?;
    let price = intent.fill.as_ref().map_or(entry.price, |f| f.average_price);
    let value = p.quantity.checked_mul(price)?;
    let usd = value.checked_mul(entry.quote_price.usd_per_unit)?;
    Some(crate::money::Sizing {
        amount: crate::money::Usd(usd),
        quote_price: entry.quote_price.clone(),
        notional: crate::money::QuoteAmount {
            amount: value,
            currency: entry.notional.currency.clone(),
        },
        quantity: Some(crate::money::Quantity(p.quantity)),
        usd_value: crate::money::Usd(usd),
        price,
    })
}

fn flatten_request(intent: &OrderIntent, p: &Protection) -> Option<OrderRequest> {
    let z = flatten_sizing(intent, p)?;
    Some(OrderRequest {
        symbol: intent.symbol.clone(),
        side: Side::Sell,
        client_oid: Leg::Flatten.client_oid(&intent.idempotency_key),
        notional: None,
        quantity: z.quantity,
        ref_price: z.price,
        usd_value: z.usd_value,
    })
}

fn row(intent: &OrderIntent, id: crate::outbox::AlertId, kind: AlertKind, text: String, p: &Protection) -> AlertRecord {
    AlertRecord {
        alert_id: id.to_string(),
        kind,
        symbol: intent.symbol.clone(),
        side: Side::Sell,
        text,
        status: AlertStatus::Pending,
        telegram_message_id: None,
        attempts: 0,
        last_error: None,
        created_at: p.updated_at,
        sent_at: None,
    }
}

fn placed_row(intent: &OrderIntent, p: &Protection) -> AlertRecord {
    let id = AlertId::Protection(intent.idempotency_key.clone(), ProtectionEvent::Placed);
    row(
        intent,
        id,
        AlertKind::ProtectionPlaced,
        crate::messages::protection_placed_text(intent, p),
        p,
    )
}

fn failed_row(intent: &OrderIntent, p: &Protection) -> AlertRecord {
    let id = AlertId::Protection(intent.idempotency_key.clone(), ProtectionEvent::Failed);
    row(
        intent,
        id,
        AlertKind::ProtectionFailed,
        crate::messages::protection_failed_text(intent, p),
        p,
    )
}

fn closed_row(intent: &OrderIntent, p: &Protection) -> AlertRecord {
    let id = AlertId::Protection(intent.idempotency_key.clone(), ProtectionEvent::Closed);
    row(
        intent,
        id,
        AlertKind::ProtectionClosed,
        crate::messages::protection_closed_text(intent, p),
        p,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{self, ManualClock, MemoryNotifier, MemoryStore, OcoExchange, OcoFate};
    use crate::ids::Symbol;
    use crate::order::{Fill, Ledger, OrderStatus};
    use chrono::{DateTime, Utc};

    struct World {
        store: MemoryStore,
        exchange: OcoExchange,
        notifier: MemoryNotifier,
        clock: ManualClock,
    }

    impl World {
        fn new(entry: crate::watchlist::WatchlistEntry) -> Self {
            let t = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
            World {
                store: MemoryStore::with_watchlist(vec![entry]),
                exchange: OcoExchange::default(),
                notifier: MemoryNotifier::default(),
                clock: ManualClock::new(t, t.timestamp_millis()),
            }
        }

        fn protector(&self) -> Protector<'_> {
            Protector {
                stores: Stores::of(&self.store),
                exchange: &self.exchange,
                notifier: Some(&self.notifier),
                clock: &self.clock,
                quantity_decimals: 8,
            }
        }

        /// A BUY of 2 ETH at 100 USDT filled (fee 0.2 USDT), recorded, and held.
        fn filled_buy(&self) -> crate::ids::IdempotencyKey {
            let sym = Symbol::parse("ETH_USDT").unwrap();
            let t = self.clock.now();
            let s = fakes::sent_signal(&sym, Side::Buy, 1_000, Decimal::from(100), t);
            let mut i = fakes::placed_intent(&s, t);
            i.fill = Some(Fill {
                status: OrderStatus::Filled,
                filled_quantity: Decimal::from(2),
                average_price: Decimal::from(100),
                fee: Decimal::new(2, 1),
                fee_currency: "USDT".into(),
                updated_at: t,
                version: 1,
                increments: 1,
            });
            self.store.set_held(&sym, Decimal::from(2));
            let key = i.idempotency_key.clone();
            self.store.insert_intent(i);
            key
        }

        fn intent(&self, key: &crate::ids::IdempotencyKey) -> OrderIntent {
            self.store
                .intents()
                .into_iter()
                .find(|i| &i.idempotency_key == key)
                .unwrap()
        }

        async fn step(&self, key: &crate::ids::IdempotencyKey) -> Protected {
            self.protector().protect(&self.intent(key)).await.unwrap()
        }

        fn held(&self) -> Decimal {
            futures::executor::block_on(crate::ports::ControlStore::held(
                &self.store,
                &Symbol::parse("ETH_USDT").unwrap(),
            ))
            .unwrap()
        }

        fn messages(&self, word: &str) -> usize {
            self.notifier.sent().iter().filter(|m| m.contains(word)).count()
        }
    }

    fn eth() -> crate::watchlist::WatchlistEntry {
        crate::watchlist::WatchlistEntry::new(Symbol::parse("ETH_USDT").unwrap())
    }

    #[tokio::test]
    async fn a_filled_buy_gets_one_oco_at_the_presets_distance_and_one_message() {
        let w = World::new(eth());
        let key = w.filled_buy();
        assert_eq!(w.step(&key).await, Protected::Moved(ProtectionStatus::Active));
        let p = w.intent(&key).protection.unwrap();
        // swing-aggressive (the default preset): 2 % either side of the average fill price.
        assert_eq!(
            (p.stop_price, p.take_profit_price, p.quantity),
            (Decimal::from(98), Decimal::from(102), Decimal::from(2))
        );
        assert_eq!(w.step(&key).await, Protected::Unchanged);
        assert_eq!(w.exchange.oco_counts(), (1, 1));
        assert_eq!(w.messages("SL/TP PLACED"), 1);
        assert!(
            w.notifier.sent()[0].contains("98 USDT (-2 %)"),
            "{}",
            w.notifier.sent()[0]
        );
    }

    #[tokio::test]
    async fn a_lost_answer_is_found_by_lookup_and_never_sent_twice() {
        let w = World::new(eth());
        let key = w.filled_buy();
        w.exchange.script([OcoFate::LoseAnswer]);
        assert!(matches!(w.step(&key).await, Protected::Retry(_)));
        assert_eq!(w.intent(&key).protection.unwrap().status, ProtectionStatus::Placing);
        assert_eq!(w.step(&key).await, Protected::Moved(ProtectionStatus::Active));
        assert_eq!(w.exchange.oco_counts(), (1, 1));
        assert_eq!(w.messages("SL/TP PLACED"), 1);
    }

    #[tokio::test]
    async fn a_claimed_send_is_left_to_its_owner_until_the_lease_runs_out() {
        let w = World::new(eth());
        let key = w.filled_buy();
        // Another worker claimed and died before sending: its lease holds others off, then they look and send.
        let mut i = w.intent(&key);
        let p = w.protector();
        p.start_claim_only(&i).await;
        i = w.intent(&key);
        assert_eq!(p.protect(&i).await.unwrap(), Protected::Busy);
        w.clock.advance_ms(LEASE.num_milliseconds());
        assert_eq!(w.step(&key).await, Protected::Moved(ProtectionStatus::Active));
        assert_eq!(w.exchange.oco_counts(), (1, 1));
    }

    #[tokio::test]
    async fn two_workers_at_once_place_one_protection() {
        for _ in 0..50 {
            let w = World::new(eth());
            let key = w.filled_buy();
            let i = w.intent(&key);
            let (a, b) = (w.protector(), w.protector());
            let (x, y) = tokio::join!(a.protect(&i), b.protect(&i));
            let moved = [x.unwrap(), y.unwrap()]
                .iter()
                .filter(|r| **r == Protected::Moved(ProtectionStatus::Active))
                .count();
            assert_eq!(moved, 1);
            assert_eq!(w.exchange.oco_counts(), (1, 1));
            assert_eq!(w.messages("SL/TP PLACED"), 1);
        }
    }

    #[tokio::test]
    async fn a_stop_rejected_three_times_flattens_the_position_with_its_messages() {
        let w = World::new(eth());
        let key = w.filled_buy();
        w.exchange
            .script((0..3).map(|_| OcoFate::Reject("308 INVALID_PRICE".into())));
        assert_eq!(w.step(&key).await, Protected::Moved(ProtectionStatus::Flattening));
        assert_eq!((w.exchange.oco_counts(), w.exchange.sells()), ((3, 0), 1));
        assert_eq!(w.messages("PROTECTION FAILED — POSITION CLOSED"), 1);
        assert_eq!(w.step(&key).await, Protected::Moved(ProtectionStatus::Closed));
        assert_eq!(w.messages("POSITION FLATTENED"), 1);
        assert_eq!(w.held(), Decimal::ZERO);
        assert_eq!(w.step(&key).await, Protected::Final);
        assert_eq!(w.exchange.sells(), 1);
    }

    #[tokio::test]
    async fn with_alert_only_a_failed_stop_is_said_and_nothing_is_sold() {
        let mut e = eth();
        e.on_protection_failure = Some(crate::watchlist::Setting::read("alert"));
        let w = World::new(e);
        let key = w.filled_buy();
        w.exchange
            .script((0..3).map(|_| OcoFate::Reject("308 INVALID_PRICE".into())));
        assert_eq!(w.step(&key).await, Protected::Moved(ProtectionStatus::Failed));
        assert_eq!((w.exchange.sells(), w.messages("POSITION UNPROTECTED")), (0, 1));
        assert_eq!(w.held(), Decimal::from(2));
    }

    #[tokio::test]
    async fn take_profit_closes_the_position_with_its_pnl_and_the_ledger_agrees() {
        let w = World::new(eth());
        let key = w.filled_buy();
        w.step(&key).await;
        let oco = w.intent(&key).protection.unwrap().oco(&w.intent(&key));
        w.exchange.trigger(&oco.take_profit_oid, Decimal::from(102), "USDT");
        assert_eq!(w.step(&key).await, Protected::Moved(ProtectionStatus::Closed));
        assert_eq!(
            w.exchange.leg(&oco.stop_loss_oid).unwrap().status,
            OrderStatus::Canceled
        );
        // 2 × 102 − 0.204 fee − (200 + 0.2) = 3.596 USDT.
        let msg = w
            .notifier
            .sent()
            .into_iter()
            .find(|m| m.contains("TAKE PROFIT HIT"))
            .unwrap();
        assert!(msg.contains("3.596 USDT ≈ 3.60 USD"), "{msg}");
        assert_eq!(w.held(), Decimal::ZERO);
        let ledger = Ledger::from_intents(&w.store.intents(), fill_dust());
        let pos = &ledger.positions()[0];
        assert_eq!(
            (pos.quantity, pos.realized_pnl_quote),
            (Decimal::ZERO, "3.596".parse().unwrap())
        );
        assert_eq!(w.step(&key).await, Protected::Final);
        assert_eq!(w.messages("TAKE PROFIT HIT"), 1);
    }

    #[tokio::test]
    async fn a_sibling_the_exchange_left_live_is_cancelled_and_confirmed_before_closing() {
        let w = World::new(eth());
        let key = w.filled_buy();
        w.step(&key).await;
        let oco = w.intent(&key).protection.unwrap().oco(&w.intent(&key));
        w.exchange.trigger(&oco.stop_loss_oid, Decimal::from(98), "USDT");
        // As if the exchange had not cancelled the take-profit: it is still ACTIVE.
        w.exchange.revive(&oco.take_profit_oid);
        assert_eq!(w.step(&key).await, Protected::Moved(ProtectionStatus::Active));
        assert_eq!(w.held(), Decimal::ZERO);
        assert_eq!(w.step(&key).await, Protected::Unchanged);
        w.exchange.settle_cancels();
        assert_eq!(w.step(&key).await, Protected::Moved(ProtectionStatus::Closed));
        assert_eq!(w.messages("STOP LOSS HIT"), 1);
    }

    #[tokio::test]
    async fn below_the_exchanges_step_is_dust_and_a_refused_flatten_is_failed_not_retried_forever() {
        let w = World::new(eth());
        let key = w.filled_buy();
        w.exchange.script([OcoFate::BelowStep]);
        assert_eq!(w.step(&key).await, Protected::Moved(ProtectionStatus::Dust));
        assert_eq!((w.step(&key).await, w.exchange.sells()), (Protected::Final, 0));

        let w = World::new(eth());
        let key = w.filled_buy();
        w.exchange
            .script((0..3).map(|_| OcoFate::Reject("308 INVALID_PRICE".into())));
        w.exchange.refuse_sells(true);
        assert_eq!(w.step(&key).await, Protected::Moved(ProtectionStatus::Failed));
        assert_eq!(
            w.intent(&key).protection.unwrap().last_error.as_deref(),
            Some("flatten refused: 306 INSUFFICIENT_AVAILABLE_BALANCE")
        );
        assert_eq!(w.step(&key).await, Protected::Final);
        assert_eq!(w.messages("PROTECTION FAILED"), 1);
    }

    #[tokio::test]
    async fn a_sell_signal_releases_the_symbols_protections_once_the_exchange_confirms() {
        let sym = Symbol::parse("ETH_USDT").unwrap();
        // ACTIVE: the cancel is asked, the SELL waits until both legs are final, nothing is sold by them.
        let w = World::new(eth());
        let key = w.filled_buy();
        w.step(&key).await;
        let p = w.protector();
        assert!(matches!(p.release(&sym).await.unwrap(), Release::Pending(_)));
        assert_eq!(w.intent(&key).protection.unwrap().status, ProtectionStatus::Canceling);
        w.exchange.settle_cancels();
        assert_eq!(p.release(&sym).await.unwrap(), Release::Done);
        assert_eq!(w.intent(&key).protection.unwrap().status, ProtectionStatus::Released);
        assert_eq!((w.held(), w.step(&key).await), (Decimal::from(2), Protected::Final));
        // PLACING whose sender died before the exchange got anything: released at once, nothing to cancel.
        let w = World::new(eth());
        let key = w.filled_buy();
        let p = w.protector();
        p.start_claim_only(&w.intent(&key)).await;
        assert!(
            matches!(p.release(&sym).await.unwrap(), Release::Pending(_)),
            "its lease still runs"
        );
        w.clock.advance_ms(LEASE.num_milliseconds());
        assert_eq!(p.release(&sym).await.unwrap(), Release::Done);
        assert_eq!(w.intent(&key).protection.unwrap().status, ProtectionStatus::Released);
        assert_eq!(w.exchange.oco_counts(), (0, 0));
        // Not started yet: released before any OCO exists; the protector then has nothing to do.
        let w = World::new(eth());
        let key = w.filled_buy();
        assert_eq!(w.protector().release(&sym).await.unwrap(), Release::Done);
        assert_eq!(
            (w.step(&key).await, w.exchange.oco_counts()),
            (Protected::Final, (0, 0))
        );
    }

    #[tokio::test]
    async fn legs_cancelled_outside_the_system_are_a_failed_protection_not_a_silent_active_one() {
        let w = World::new(eth());
        let key = w.filled_buy();
        w.step(&key).await;
        let oco = w.intent(&key).protection.unwrap().oco(&w.intent(&key));
        // Someone cancels both legs by hand.
        for leg in [Leg::TakeProfit, Leg::StopLoss] {
            crate::ports::Exchange::cancel_leg(&w.exchange, &oco, leg)
                .await
                .unwrap();
        }
        w.exchange.settle_cancels();
        assert_eq!(w.step(&key).await, Protected::Moved(ProtectionStatus::Failed));
        assert_eq!(w.messages("POSITION UNPROTECTED"), 1);
        assert_eq!((w.step(&key).await, w.held()), (Protected::Final, Decimal::from(2)));
    }

    /// A SELL signal that took protected positions off their stops sells everything held, not its configured amount
    /// (nothing is left behind without a stop) — also when it is redelivered after its entries already read
    /// RELEASED, because the entries it releases are recorded on its intent before their cancel is asked.
    #[tokio::test]
    async fn a_sell_that_released_protections_sells_all_that_is_held_on_every_delivery() {
        use crate::flow::orchestration::{Orchestrator, OrchestratorSettings, Outcome};
        let w = World::new(eth());
        let key = w.filled_buy();
        w.step(&key).await;
        let sym = Symbol::parse("ETH_USDT").unwrap();
        // 100 USD at 200 would be 0.5 ETH; the position is 2 ETH.
        let sell = fakes::sent_signal(&sym, Side::Sell, 2_000, Decimal::from(200), w.clock.now());
        w.store.insert_signal(sell.clone());
        let guard = crate::risk::ControlCache::default();
        let orch = Orchestrator {
            stores: Stores::of(&w.store),
            guard: &guard,
            exchange: &w.exchange,
            clock: &w.clock,
            settings: OrchestratorSettings::default(),
        };
        assert!(
            matches!(orch.process(&sell.to_message()).await.unwrap(), Outcome::Retry(_)),
            "waits for the cancel"
        );
        let sold = || w.store.intents().into_iter().find(|i| i.side == Side::Sell).unwrap();
        assert_eq!(sold().releases, vec![key.clone()], "recorded before the cancel");
        // The cancel is confirmed by someone else's read (the first delivery died): the entry reads RELEASED and
        // nothing is left to release when the SELL comes back.
        w.exchange.settle_cancels();
        assert_eq!(w.protector().release(&sym).await.unwrap(), Release::Done);
        assert_eq!(w.intent(&key).protection.unwrap().status, ProtectionStatus::Released);
        w.clock.advance_ms(61_000);
        let Outcome::Decided(d, ..) = orch.process(&sell.to_message()).await.unwrap() else {
            panic!("decided")
        };
        assert_eq!(d.reason_code, crate::decision::ReasonCode::ExecOrderPlaced);
        assert_eq!(
            sold().sizing.and_then(|z| z.quantity).map(|q| q.0),
            Some(Decimal::from(2))
        );
    }

    #[tokio::test]
    async fn protection_off_and_dust_are_final_without_an_order() {
        let mut e = eth();
        e.protection = false;
        let w = World::new(e);
        let key = w.filled_buy();
        assert_eq!(w.step(&key).await, Protected::Moved(ProtectionStatus::Off));
        assert_eq!(w.step(&key).await, Protected::Final);
        assert_eq!(w.exchange.oco_counts(), (0, 0));
    }

    fn fill_dust() -> Decimal {
        crate::flow::follow::dust(8)
    }
}
