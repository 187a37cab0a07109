//! The orchestrator's state machine for one signal (docs/DESIGN.md §5): claim → place → finalize.
//!
//! * **Claim** is a conditional put of the order intent on `idempotency_key`. Exactly one delivery of a signal wins
//!   it; every other delivery learns the stored intent from the failed condition itself (no extra read).
//! * **Place** sends the order with the client_oid derived from the key, so any resend is recognisable.
//! * **Finalize** writes the intent's final status, the signal's decision trace and (for failures) the ORDER FAILED
//!   outbox row in one transaction, fenced on the intent's `attempt`: a worker that lost its lease cannot overwrite.
//!
//! A redelivery of a finished signal only makes sure the decision trace is on the signal. A non-terminal intent whose
//! lease ran out (its worker died or timed out, or it recorded UNKNOWN after an ambiguous exchange answer and released
//! the lease) is taken over with a conditional update on the `attempt` seen, which fences the previous worker off. The new owner reconciles
//! before anything else: it asks the exchange for the order by client_oid; found → that is the outcome. Not found →
//! it resends (same client_oid) only once the settle window has passed since the last send and a second lookup
//! still finds nothing, because create-order is asynchronous and a just-accepted order may not be visible yet. A
//! worker sends only while a settle window of lease remains, so whatever it sent is visible by the time anyone can
//! take over. (The assumption, as in the design: an accepted order shows up in lookups within the settle window.)

use crate::text::truncate;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::decision::{Decision, DecisionType, ReasonCode};
use crate::flow::protect::{Protector, Release};
use crate::ids::{ClientOid, Side, SignalId};
use crate::money::{self, Sizing, SizingError, Usd, UsdPrice};
use crate::order::{IntentStatus, OrderIntent};
use crate::outbox::{AlertKind, AlertRecord, AlertStatus};
use crate::ports::{
    Claim, ClaimRequest, Clock, Exchange, ExchangeError, Finalization, FinalizeOutcome, Lookup, OrderAck, OrderRequest,
    StoreError, Stores,
};
use crate::risk::{self, ControlCache, CounterDelta};
use crate::signal::SignalMessage;

pub use crate::order::ExecutionMode;

#[derive(Debug, Clone, Copy)]
pub struct OrchestratorSettings {
    pub mode: ExecutionMode,
    pub lease_ms: i64,
    /// Minimum time between a send and a resend of the same order (lookups in between must find nothing).
    pub settle_ms: i64,
    /// Decimal places a SELL quantity is rounded down to when the instrument's tick is not known.
    pub quantity_decimals: u32,
    /// A signal older than this when first claimed is not traded: SKIPPED / STALE_SIGNAL.
    pub max_signal_age_ms: i64,
    /// A message emitted further than this in the future is refused (clocks of two Lambdas disagree by less).
    pub max_clock_skew_ms: i64,
}

impl Default for OrchestratorSettings {
    /// The configuration defaults: paper trading, 60 s lease, 30 s settle window, 8 quantity decimals, 15 min age.
    fn default() -> Self {
        Self {
            mode: ExecutionMode::Paper,
            lease_ms: 60_000,
            settle_ms: 30_000,
            quantity_decimals: 8,
            max_signal_age_ms: 900_000,
            max_clock_skew_ms: 60_000,
        }
    }
}

/// What happened to one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The signal has its decision; acknowledge the message. With the order message's outbox row (ORDER FAILED, or
    /// ORDER PLACED) this delivery committed, which the caller sends now (see [`crate::flow::deliver::deliver`]), and the
    /// intent as this delivery wrote it, or found it stored (what the fill's record starts from: no read again).
    Decided(Decision, Option<Box<AlertRecord>>, Box<OrderIntent>),
    /// Leave the message on the queue for a later delivery.
    Retry(String),
    /// The message is not to be believed: nothing was written; the message fails every delivery and ends in the
    /// DLQ.
    Refused(Refusal),
}

/// Why a queue message is not believed.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// It claims to have been emitted later than now plus the allowed clock skew.
    FromTheFuture {
        emitted_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// Its signal row is missing or says otherwise (the store names what differs).
    SignalMismatch(String),
    /// The signal row disappeared after the claim; the intent is left for the report (ORPHAN_INTENT).
    SignalVanished {
        signal_id: SignalId,
        key: crate::ids::IdempotencyKey,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::FromTheFuture { emitted_at, now } => write!(
                f,
                "emitted_at {} is in the future (now {})",
                crate::time::rfc3339(*emitted_at),
                crate::time::rfc3339(*now)
            ),
            Refusal::SignalMismatch(why) => f.write_str(why),
            Refusal::SignalVanished { signal_id, key } => write!(
                f,
                "signal {signal_id} disappeared after the claim; intent {key} is left for the report (ORPHAN_INTENT)"
            ),
        }
    }
}

pub struct Orchestrator<'a> {
    /// The intents, the signals, the outbox (a SELL's release of a protection may write a message, left for the
    /// sweeper to send) and the control row with the risk counters (docs/DESIGN.md §11).
    pub stores: Stores<'a>,
    pub exchange: &'a dyn Exchange,
    pub clock: &'a dyn Clock,
    /// The control row as this container last saw it; the claim checks it is still current.
    pub guard: &'a ControlCache,
    pub settings: OrchestratorSettings,
}

impl Orchestrator<'_> {
    pub async fn process(&self, msg: &SignalMessage) -> Result<Outcome, StoreError> {
        let now = self.clock.now();
        if (msg.emitted_at - now).num_milliseconds() > self.settings.max_clock_skew_ms {
            return Ok(Outcome::Refused(Refusal::FromTheFuture {
                emitted_at: msg.emitted_at,
                now,
            }));
        }
        let mut fresh = self.initial_intent(msg, now);
        if fresh.status == IntentStatus::Pending && msg.side == Side::Buy {
            // A BUY's size is known before its claim (the watchlist amount at the quote currency's USD price now), so
            // the claim records it and the first send needs no write of its own. A size that cannot be had is
            // learnt again after the claim, which decides the intent from it as before. A SELL's size depends on
            // the protections it releases and what is held, known only once it owns the intent.
            fresh.sizing = self.size(msg).await.ok();
        }
        let (intent, claim, alert) = if fresh.status == IntentStatus::Pending {
            match self.guarded_claim(msg, &fresh).await? {
                Some(claimed) => claimed,
                None => return Ok(Outcome::Retry("the control row kept changing during the claim".into())),
            }
        } else {
            let claim = self.stores.intents.claim(ClaimRequest::plain(&fresh, msg)).await?;
            (fresh.clone(), claim, None)
        };
        match claim {
            Claim::Created if intent.status == IntentStatus::Pending => self.place(msg, intent).await,
            Claim::Created => match self.ensure_decision(&msg.signal_id, &intent).await? {
                Outcome::Decided(d, _, intent) => Ok(Outcome::Decided(d, alert.map(Box::new), intent)),
                other => Ok(other),
            },
            Claim::Exists(existing) => self.on_existing(msg, *existing, now).await,
            Claim::SignalMismatch(why) => Ok(Outcome::Refused(Refusal::SignalMismatch(why))),
            Claim::ControlChanged(_) | Claim::LimitsChanged(_) | Claim::LimitExceeded { .. } => Ok(Outcome::Retry(
                "the claim was refused by the risk guard without a decision; trying again".into(),
            )),
        }
    }

    /// The claim of an order to be tried: the control row's version checked, the day's counters reserved within
    /// their limits, all in the one transaction. A halt or a limit already passed makes the claim's intent SKIPPED
    /// (TRADING_HALTED, RISK_LIMIT_EXCEEDED with its ORDER SKIPPED message, written with it). A changed control row
    /// or a counter at its limit is learnt from the refused transaction itself and the claim built again. None: the
    /// control row kept changing.
    async fn guarded_claim(
        &self,
        msg: &SignalMessage,
        fresh: &OrderIntent,
    ) -> Result<Option<(OrderIntent, Claim, Option<AlertRecord>)>, StoreError> {
        let mut symbol_limits = self.current_symbol_limits(&msg.symbol).await?;
        let amount = msg.trade_amount_usd;
        let mut forced = None;
        for _ in 0..4 {
            let control = self.current_control().await?;
            let refused = forced
                .take()
                .or_else(|| risk::refusal(&control, &symbol_limits, amount));
            let (intent, reservations, alert) = planned_claim(fresh, msg, &control, &symbol_limits, refused);
            let req = ClaimRequest {
                intent: &intent,
                msg,
                control_version: Some(control.version),
                symbol_limits: Some(&symbol_limits),
                reservations: &reservations,
                alert: alert.as_ref(),
            };
            match self.stores.intents.claim(req).await? {
                Claim::ControlChanged(now) => {
                    tracing::info!(
                        seen = control.version,
                        now = now.version,
                        "control row changed; claiming again"
                    );
                    self.guard.set(*now);
                }
                Claim::LimitsChanged(now) => {
                    tracing::info!(symbol = %msg.symbol, "the symbol's watchlist limits changed; claiming again");
                    self.guard.set_symbol_limits(&msg.symbol, (*now).clone());
                    symbol_limits = *now;
                }
                Claim::LimitExceeded { index, used } => {
                    let why = reservations.get(index).map_or_else(
                        || "a risk limit was reached".to_string(),
                        |r| risk::exceeded(r, used, &msg.symbol),
                    );
                    forced = Some((ReasonCode::RiskLimitExceeded, why));
                }
                claim => {
                    // Said only once the claim (and its signal check) stood: a forged message for a missing signal
                    // is refused as such, never reported as held back.
                    if claim == Claim::Created && intent.status == IntentStatus::Skipped {
                        tracing::warn!(signal_id = %msg.signal_id, reason_code = ?intent.error_code,
                            reason = intent.error_message.as_deref(), "order held back by the risk guard");
                    }
                    return Ok(Some((intent, claim, alert)));
                }
            }
        }
        Ok(None)
    }

    /// The intent this delivery tries to create: PENDING with a lease, or directly terminal when no order will be
    /// attempted (so the claim is still the one write that decides).
    fn initial_intent(&self, msg: &SignalMessage, now: DateTime<Utc>) -> OrderIntent {
        let key = msg.idempotency_key.clone();
        let mut intent = OrderIntent {
            client_oid: key.client_oid(),
            idempotency_key: key,
            signal_id: msg.signal_id.clone(),
            symbol: msg.symbol.clone(),
            side: msg.side,
            status: IntentStatus::Pending,
            mode: self.settings.mode,
            order_id: None,
            attempt: 1,
            lease_until_ms: now.timestamp_millis() + self.settings.lease_ms,
            sizing: None,
            error_code: None,
            error_message: None,
            failure_alert_id: None,
            reserved: Vec::new(),
            fill: None,
            protection: None,
            releases: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        let mut terminal = |status, code, message: String| make_terminal(&mut intent, status, code, message);
        if self.settings.mode == ExecutionMode::Blocked {
            terminal(
                IntentStatus::BlockedLiveTrading,
                ReasonCode::OrderBlockedLiveTrading,
                "LIVE_TRADING is disabled".into(),
            );
        } else if (now - msg.emitted_at).num_milliseconds() > self.settings.max_signal_age_ms {
            terminal(
                IntentStatus::Skipped,
                ReasonCode::StaleSignal,
                format!(
                    "signal emitted at {} is older than the maximum age of {} s",
                    crate::time::rfc3339(msg.emitted_at),
                    self.settings.max_signal_age_ms / 1000
                ),
            );
        } else if !msg.trade_enabled {
            terminal(
                IntentStatus::Skipped,
                ReasonCode::TradeDisabled,
                format!("trading is disabled for {} in the watchlist", msg.symbol),
            );
        } else if msg.trade_amount_usd <= Decimal::ZERO || msg.price <= Decimal::ZERO {
            terminal(
                IntentStatus::Skipped,
                ReasonCode::InvalidTradeAmount,
                format!(
                    "trade_amount_usd={} price={} cannot size an order",
                    msg.trade_amount_usd, msg.price
                ),
            );
        }
        intent
    }

    async fn on_existing(
        &self,
        msg: &SignalMessage,
        existing: OrderIntent,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        if existing.signal_id != msg.signal_id {
            // Unreachable while keys derive from signal ids; kept so a future key scheme cannot double an order.
            let d = skipped(
                ReasonCode::IdempotencyBlocked,
                format!(
                    "Duplicate signal detected for {} {}. Order was already attempted (idempotency_key already exists).",
                    msg.symbol, msg.side
                ),
                &existing,
                now,
            );
            return self.write_decision(&msg.signal_id, &existing, d).await;
        }
        if existing.status.is_terminal() {
            tracing::info!(idempotency_key = %existing.idempotency_key, status = %existing.status, "redelivery of a decided signal");
            return self.ensure_decision(&msg.signal_id, &existing).await;
        }
        // Whoever holds a live lease owns the intent, whatever its status (an UNKNOWN being reconciled included).
        if existing.lease_until_ms > now.timestamp_millis() {
            return Ok(Outcome::Retry(format!(
                "intent is owned by attempt {} until {} ms",
                existing.attempt, existing.lease_until_ms
            )));
        }
        let lease_until_ms = now.timestamp_millis() + self.settings.lease_ms;
        let Some(mine) = self.stores.intents.take_over(&existing, lease_until_ms).await? else {
            return Ok(Outcome::Retry(format!(
                "attempt {} of {} was taken over by another worker",
                existing.attempt, existing.idempotency_key
            )));
        };
        tracing::warn!(idempotency_key = %mine.idempotency_key, attempt = mine.attempt, previous_status = %existing.status,
            "took over a stale intent; reconciling with the exchange by client_oid");
        self.reconcile(msg, mine, existing.updated_at).await
    }

    /// The symbol's watchlist limits as this container last saw them, read (and kept) when it has none.
    async fn current_symbol_limits(&self, symbol: &crate::ids::Symbol) -> Result<risk::RiskLimits, StoreError> {
        if let Some(l) = self.guard.symbol_limits(symbol) {
            return Ok(l);
        }
        let l = self.stores.control.symbol_limits(symbol).await?;
        self.guard.set_symbol_limits(symbol, l.clone());
        Ok(l)
    }

    /// The control row as this container last saw it, read (and kept) when it has none.
    async fn current_control(&self) -> Result<risk::Control, StoreError> {
        if let Some(c) = self.guard.get() {
            return Ok(c);
        }
        let c = self.stores.control.control().await?;
        self.guard.set(c.clone());
        Ok(c)
    }

    /// Owner of a taken-over intent: find the order by client_oid before anything is resent.
    async fn reconcile(
        &self,
        msg: &SignalMessage,
        intent: OrderIntent,
        last_send: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        let oid = intent.idempotency_key.client_oid();
        match self.lookup(&oid).await {
            Err(why) => return Ok(Outcome::Retry(why)),
            Ok(Lookup::NotFound) => {}
            Ok(found) => return self.finish_found(msg, intent, found).await,
        }
        let now = self.clock.now();
        let settled_at = last_send + chrono::Duration::milliseconds(self.settings.settle_ms);
        if now < settled_at {
            return Ok(Outcome::Retry(format!(
                "order {oid} not visible yet; no resend before {settled_at}"
            )));
        }
        match self.lookup(&oid).await {
            Err(why) => return Ok(Outcome::Retry(why)),
            Ok(Lookup::NotFound) => {}
            Ok(found) => return self.finish_found(msg, intent, found).await,
        }
        // Nothing on the exchange after the settle window and two lookups: record the resend time, then resend.
        let mut resend = intent;
        resend.status = IntentStatus::Pending;
        resend.updated_at = now;
        if !self.stores.intents.save_owned(&resend).await? {
            return Ok(Outcome::Retry(format!(
                "attempt {} was fenced off before the resend",
                resend.attempt
            )));
        }
        tracing::warn!(idempotency_key = %resend.idempotency_key, client_oid = %oid, "order not found after the settle window; resending");
        self.place(msg, resend).await
    }

    async fn lookup(&self, oid: &ClientOid) -> Result<Lookup, String> {
        self.exchange
            .find_order(oid)
            .await
            .map_err(|e| format!("order lookup by client_oid {oid} failed: {e}"))
    }

    async fn finish_found(
        &self,
        msg: &SignalMessage,
        intent: OrderIntent,
        found: Lookup,
    ) -> Result<Outcome, StoreError> {
        match found {
            Lookup::Placed(ack) => self.finish_placed(msg, intent, ack).await,
            Lookup::Rejected { code, message, snippet } => {
                self.finish_failed(intent, code, message, Some(snippet)).await
            }
            Lookup::NotFound => Ok(Outcome::Retry("order not found".into())),
        }
    }

    async fn finish_placed(
        &self,
        msg: &SignalMessage,
        mut intent: OrderIntent,
        ack: OrderAck,
    ) -> Result<Outcome, StoreError> {
        intent.status = IntentStatus::OrderPlaced;
        intent.order_id = Some(ack.order_id);
        intent.error_code = None;
        intent.error_message = None;
        intent.updated_at = self.clock.now();
        let decision = decision_for(&intent, intent.updated_at);
        let alert = msg.notify_order_placed.then(|| {
            outbox_row(
                AlertRecord::placed_id(&intent.idempotency_key),
                AlertKind::OrderPlaced,
                &intent,
                crate::messages::order_placed_text(&intent, msg.price),
            )
        });
        // A placed SELL takes its USD value off the symbol's open exposure (a placed BUY keeps its reservation).
        let counters = match (&intent.sizing, intent.side) {
            (Some(z), Side::Sell) => vec![CounterDelta {
                key: risk::exposure_key(&intent.symbol),
                usd: Decimal::ZERO.checked_sub(z.usd_value.0).unwrap_or_default(),
                orders: 0,
            }],
            _ => Vec::new(),
        };
        let signal_id = intent.signal_id.clone();
        self.finalize(Finalization {
            signal_id,
            intent,
            decision,
            alert,
            counters,
        })
        .await
    }

    async fn place(&self, msg: &SignalMessage, mut intent: OrderIntent) -> Result<Outcome, StoreError> {
        // The size is recorded on the intent before the first send (a fenced write: this worker must still own the
        // intent), so whatever happens next the intent says what was sent, and a resend reuses it: the same order,
        // not a re-priced one.
        let sizing = match intent.sizing.clone() {
            Some(sizing) => sizing,
            None => match self.size_first(msg, &mut intent).await? {
                Ok(sizing) => sizing,
                Err(outcome) => return Ok(outcome),
            },
        };
        let req = OrderRequest {
            symbol: msg.symbol.clone(),
            side: msg.side,
            client_oid: intent.idempotency_key.client_oid(),
            notional: (msg.side == Side::Buy).then(|| sizing.notional.clone()),
            quantity: sizing.quantity,
            ref_price: msg.price,
            usd_value: sizing.usd_value,
        };
        tracing::info!(idempotency_key = %intent.idempotency_key, amount = %sizing.amount, notional = %sizing.notional,
            quantity = ?sizing.quantity.map(|q| q.0), usd_per_unit = %sizing.quote_price.usd_per_unit,
            rate_source = %sizing.quote_price.source, "order sized");
        // Send only with a settle window of lease left: a taker-over resends no earlier than lease end, so an order
        // this worker sends now is visible to the taker-over's lookups by then (a stalled worker must not send late).
        if self.clock.now().timestamp_millis() + self.settings.settle_ms > intent.lease_until_ms {
            return Ok(Outcome::Retry(format!(
                "attempt {} of {} has too little lease left to send safely",
                intent.attempt, intent.idempotency_key
            )));
        }
        match self.exchange.place_order(&req).await {
            Ok(ack) => self.finish_placed(msg, intent, ack).await,
            Err(ExchangeError::Rejected { code, message, snippet }) => {
                self.finish_failed(intent, code, message, Some(snippet)).await
            }
            Err(ExchangeError::NotSent { reason: why, cause }) => {
                // Nothing left this process: the lease runs out and the next delivery takes over and reconciles.
                let cause = cause.as_ref().map(|c| tracing::field::display(c.chain()));
                tracing::warn!(idempotency_key = %intent.idempotency_key, reason = %why, cause, "order not sent");
                Ok(Outcome::Retry(format!("order not sent: {why}")))
            }
            Err(ExchangeError::Unknown { reason: why, cause }) => {
                // Maybe accepted: record UNKNOWN (never a failure) and let the next delivery reconcile by client_oid.
                let cause = cause.as_ref().map(|c| tracing::field::display(c.chain()));
                tracing::warn!(idempotency_key = %intent.idempotency_key, reason = %why, cause, "exchange outcome unknown");
                intent.status = IntentStatus::Unknown;
                intent.error_message = Some(truncate(&why, 500));
                intent.updated_at = self.clock.now();
                // Release the lease: the next delivery may take over at once; the settle window, counted from this
                // write (after the send), still keeps it from resending before the order could show up.
                intent.lease_until_ms = intent.updated_at.timestamp_millis();
                self.stores.intents.save_owned(&intent).await?;
                Ok(Outcome::Retry(format!("exchange outcome unknown: {why}")))
            }
        }
    }

    /// The protector as the SELL path uses it: no notifier (a message it writes goes out with the sweeper's resend).
    fn protector(&self) -> Protector<'_> {
        Protector {
            stores: self.stores,
            exchange: self.exchange,
            notifier: None,
            clock: self.clock,
            quantity_decimals: self.settings.quantity_decimals,
        }
    }

    /// Before the first send: a SELL's symbol's protections released (docs/DESIGN.md §14), the order sized and the
    /// size recorded on the owned intent. Err: the delivery ends here (waiting for a release, skipped, failed, or
    /// fenced off).
    async fn size_first(
        &self,
        msg: &SignalMessage,
        intent: &mut OrderIntent,
    ) -> Result<Result<Sizing, Outcome>, StoreError> {
        if msg.side == Side::Sell {
            if let Err(wait) = self.release_first(msg, intent).await? {
                return Ok(Err(wait));
            }
        }
        let sized = match msg.side {
            // A SELL that takes protected entries off their stops sells all that the ledger holds, not its
            // configured amount: nothing is left behind without a stop (docs/DESIGN.md §14).
            Side::Sell if !intent.releases.is_empty() => self.size_all_held(msg).await?,
            Side::Sell => self.size_sell(msg).await?,
            Side::Buy => self.size(msg).await,
        };
        let sizing = match sized {
            Ok(sizing) => sizing,
            Err((code, message)) if code.decision_type() == DecisionType::Skipped => {
                return Ok(Err(self.finish_skipped(intent.clone(), code, message).await?))
            }
            Err((code, message)) => return Ok(Err(self.finish_failed(intent.clone(), code, message, None).await?)),
        };
        intent.sizing = Some(sizing.clone());
        intent.updated_at = self.clock.now();
        if !self.stores.intents.save_owned(intent).await? {
            return Ok(Err(Outcome::Retry(format!(
                "attempt {} of {} was fenced off before the send",
                intent.attempt, intent.idempotency_key
            ))));
        }
        Ok(Ok(sizing))
    }

    /// A SELL's symbol's protections released before it is sized (docs/DESIGN.md §14). The entries it releases are
    /// recorded on the owned intent before any cancel is asked, so every later delivery of this SELL knows it took
    /// them off their stops (and sells all that is held), even once their records say RELEASED. Err: the SELL
    /// waits (a cancel not confirmed yet, or this attempt was fenced off).
    async fn release_first(
        &self,
        msg: &SignalMessage,
        intent: &mut OrderIntent,
    ) -> Result<Result<(), Outcome>, StoreError> {
        let protector = self.protector();
        let entries = protector.holding(&msg.symbol).await?;
        let new: Vec<_> = entries
            .iter()
            .map(|e| e.idempotency_key.clone())
            .filter(|k| !intent.releases.contains(k))
            .collect();
        if !new.is_empty() {
            intent.releases.extend(new);
            intent.updated_at = self.clock.now();
            if !self.stores.intents.save_owned(intent).await? {
                return Ok(Err(Outcome::Retry(format!(
                    "attempt {} of {} was fenced off before releasing protections",
                    intent.attempt, intent.idempotency_key
                ))));
            }
        }
        if let Release::Pending(why) = protector.release_entries(&entries).await? {
            // The coins are held by protective orders whose cancel is not confirmed: the SELL waits (the lease runs
            // out and the next delivery takes over; nothing was sized or sent).
            tracing::info!(idempotency_key = %intent.idempotency_key, reason = %why,
                "SELL waits for the symbol's protection to be cancelled");
            return Ok(Err(Outcome::Retry(format!("protection not released yet: {why}"))));
        }
        Ok(Ok(()))
    }

    /// A SELL of everything the system's fills hold for the symbol (SELL_REQUIRES_POSITION with nothing held).
    async fn size_all_held(&self, msg: &SignalMessage) -> Result<Result<Sizing, (ReasonCode, String)>, StoreError> {
        let held = self.stores.control.held(&msg.symbol).await?;
        if held < crate::flow::follow::dust(self.settings.quantity_decimals) {
            return Ok(Err(nothing_held(&msg.symbol, held)));
        }
        Ok(self.size(msg).await.and_then(|z| {
            z.with_quantity(money::Quantity(held), self.settings.quantity_decimals)
                .map_err(|e| (ReasonCode::InvalidTradeAmount, e.to_string()))
        }))
    }

    /// The order's size: the watchlist's USD amount converted into the quote currency at its USD price now (no
    /// price, no order: never a guess), then BUY by that notional, SELL by the quantity it buys at the signal price.
    async fn size(&self, msg: &SignalMessage) -> Result<Sizing, (ReasonCode, String)> {
        let currency = money::quote_currency(&msg.symbol);
        let quote_price = match UsdPrice::pegged(currency) {
            Some(p) => p,
            None => self.exchange.usd_price(currency).await.map_err(|e| {
                (
                    ReasonCode::QuoteConversionUnavailable,
                    format!("no USD price for {currency} to size {} USD: {e}", msg.trade_amount_usd),
                )
            })?,
        };
        money::size_order(
            msg.side,
            Usd(msg.trade_amount_usd),
            msg.price,
            quote_price,
            self.settings.quantity_decimals,
        )
        .map_err(|e| {
            let code = match e {
                SizingError::RoundsToZero { .. } => ReasonCode::BelowMinOrderSize,
                _ => ReasonCode::InvalidTradeAmount,
            };
            (code, e.to_string())
        })
    }

    /// A SELL sells at most what the system's own fills hold for the symbol (docs/DESIGN.md §13): nothing held →
    /// SELL_REQUIRES_POSITION (on spot, selling coins the account does not hold would fail with INSUFFICIENT_FUNDS
    /// and count towards the circuit breaker); less held than the configured amount buys → the held quantity. A
    /// symbol whose watchlist row says `sell_held_elsewhere` sells the configured amount whatever is held (read only
    /// when holding less than that would change the order).
    async fn size_sell(&self, msg: &SignalMessage) -> Result<Result<Sizing, (ReasonCode, String)>, StoreError> {
        let held = self.stores.control.held(&msg.symbol).await?;
        let step = crate::flow::follow::dust(self.settings.quantity_decimals);
        // Nothing held: not even sized (no USD price asked for) unless the row sells coins held elsewhere.
        let sized = if held < step { None } else { Some(self.size(msg).await) };
        let enough = matches!(&sized, Some(Ok(z)) if z.quantity.is_some_and(|q| q.0 <= held));
        if enough || self.stores.control.sells_held_elsewhere(&msg.symbol).await? {
            return Ok(match sized {
                Some(sized) => sized,
                None => self.size(msg).await,
            });
        }
        let Some(sized) = sized else {
            return Ok(Err(nothing_held(&msg.symbol, held)));
        };
        Ok(sized.and_then(|z| {
            z.capped(money::Quantity(held), self.settings.quantity_decimals)
                .map_err(|e| (ReasonCode::InvalidTradeAmount, e.to_string()))
        }))
    }

    /// An owned intent that will not be traded after all: SKIPPED, no order, the claim's reservation released. An
    /// impossible size has no message; a SELL with nothing to sell (SELL_REQUIRES_POSITION) has its ORDER SKIPPED
    /// message, and never counts towards the circuit breaker (no exchange call was made).
    async fn finish_skipped(
        &self,
        mut intent: OrderIntent,
        code: ReasonCode,
        message: String,
    ) -> Result<Outcome, StoreError> {
        intent.status = IntentStatus::Skipped;
        intent.error_code = Some(code);
        intent.error_message = Some(truncate(&message, 500));
        intent.updated_at = self.clock.now();
        intent.lease_until_ms = 0;
        let decision = decision_for(&intent, intent.updated_at);
        let alert = skipped_row(&intent, code, None);
        let signal_id = intent.signal_id.clone();
        self.finalize(Finalization {
            signal_id,
            counters: released(&intent),
            intent,
            decision,
            alert,
        })
        .await
    }

    async fn finish_failed(
        &self,
        mut intent: OrderIntent,
        code: ReasonCode,
        message: String,
        snippet: Option<String>,
    ) -> Result<Outcome, StoreError> {
        let now = self.clock.now();
        intent.status = IntentStatus::OrderFailed;
        intent.error_code = Some(code);
        intent.error_message = Some(truncate(&message, 500));
        intent.updated_at = now;
        let alert_id = AlertRecord::failure_id(&intent.idempotency_key);
        intent.failure_alert_id = Some(alert_id.clone());
        let mut decision = decision_for(&intent, now);
        decision.exchange_error_snippet = snippet.map(|s| truncate(&s, 500));
        let text = crate::messages::order_failed_text(&intent, code);
        let alert = outbox_row(alert_id, AlertKind::OrderFailed, &intent, text);
        let signal_id = intent.signal_id.clone();
        self.finalize(Finalization {
            counters: released(&intent),
            intent,
            signal_id,
            decision,
            alert: Some(alert),
        })
        .await
    }

    async fn finalize(&self, f: Finalization) -> Result<Outcome, StoreError> {
        match self.stores.intents.finalize(&f).await? {
            FinalizeOutcome::Committed => Ok(Outcome::Decided(f.decision, f.alert.map(Box::new), Box::new(f.intent))),
            FinalizeOutcome::Fenced => Ok(Outcome::Retry(format!(
                "attempt {} of {} was fenced off by a newer attempt",
                f.intent.attempt, f.intent.idempotency_key
            ))),
            FinalizeOutcome::SignalMissing => Ok(Outcome::Refused(Refusal::SignalVanished {
                signal_id: f.signal_id,
                key: f.intent.idempotency_key,
            })),
            FinalizeOutcome::DecisionConflict => Err(StoreError::DecisionConflict(format!(
                "signal {} already carries a different decision than {}",
                f.signal_id, f.decision.reason_code
            ))),
        }
    }

    async fn ensure_decision(&self, signal_id: &SignalId, intent: &OrderIntent) -> Result<Outcome, StoreError> {
        let d = decision_for(intent, self.clock.now());
        self.write_decision(signal_id, intent, d).await
    }

    async fn write_decision(
        &self,
        signal_id: &SignalId,
        intent: &OrderIntent,
        d: Decision,
    ) -> Result<Outcome, StoreError> {
        if self
            .stores
            .signals
            .record_decision(signal_id, &intent.idempotency_key, &d)
            .await?
        {
            Ok(Outcome::Decided(d, None, Box::new(intent.clone())))
        } else {
            Err(StoreError::DecisionConflict(format!(
                "signal {signal_id} already carries a different decision than {}",
                d.reason_code
            )))
        }
    }
}

/// The decision trace a terminal intent implies. Rebuilding it on redelivery gives the same type and code.
pub fn decision_for(intent: &OrderIntent, now: DateTime<Utc>) -> Decision {
    let (sym, side) = (&intent.symbol, intent.side);
    let mut context = BTreeMap::new();
    context.insert("symbol".to_string(), sym.to_string());
    context.insert("mode".to_string(), intent.mode.to_string());
    context.insert("attempt".to_string(), intent.attempt.to_string());
    let err = intent.error_message.clone().unwrap_or_default();
    let (code, reason_message) = match intent.status {
        IntentStatus::OrderPlaced => {
            let id = intent.order_id.clone().unwrap_or_default();
            context.insert("order_id".to_string(), id.clone());
            (ReasonCode::ExecOrderPlaced, format!("Order created successfully for {sym} {side} ({}). order_id={id}", intent.mode))
        }
        IntentStatus::OrderFailed => {
            let code = intent.error_code.unwrap_or(ReasonCode::ExchangeErrorUnknown);
            (code, format!("Order creation failed for {sym} {side}: {err}"))
        }
        IntentStatus::BlockedLiveTrading => (
            ReasonCode::OrderBlockedLiveTrading,
            format!("Order blocked for {sym} {side}: LIVE_TRADING is disabled. Signal was sent but no order will be placed."),
        ),
        IntentStatus::Skipped => {
            let code = intent.error_code.unwrap_or(ReasonCode::GuardrailBlocked);
            (code, format!("Order skipped for {sym} {side}: {err}"))
        }
        // Callers only pass terminal intents; a non-terminal one is described as such rather than panicking.
        IntentStatus::Pending | IntentStatus::Unknown => {
            (ReasonCode::ExchangeErrorUnknown, format!("Order for {sym} {side} is still {}", intent.status))
        }
    };
    Decision {
        decision_type: code.decision_type(),
        reason_code: code,
        reason_message,
        exchange_error_snippet: None,
        context,
        correlation_id: intent.client_oid.to_string(),
        decided_at: now,
        order_id: intent.order_id.clone(),
    }
}

/// An intent decided at its claim: no order will be tried.
/// The intent a claim writes, with the counters it reserves, or — `refused`, or a limit the reservation would pass —
/// SKIPPED with its ORDER SKIPPED row when the reason has one.
fn planned_claim(
    fresh: &OrderIntent,
    msg: &SignalMessage,
    control: &risk::Control,
    symbol_limits: &risk::RiskLimits,
    refused: Option<(ReasonCode, String)>,
) -> (OrderIntent, Vec<risk::Reservation>, Option<AlertRecord>) {
    let mut intent = fresh.clone();
    let amount = msg.trade_amount_usd;
    let planned = match refused {
        Some(refused) => Err(refused),
        None => risk::reservations(control, symbol_limits, &msg.symbol, msg.side, amount, intent.created_at),
    };
    let (reservations, alert) = match planned {
        Ok(reservations) => (reservations, None),
        Err((code, why)) => {
            make_terminal(&mut intent, IntentStatus::Skipped, code, why);
            intent.sizing = None; // never tried: nothing was sized
            let amount = (code == ReasonCode::RiskLimitExceeded).then_some(amount);
            let alert = skipped_row(&intent, code, amount);
            (Vec::new(), alert)
        }
    };
    intent.reserved = reservations.iter().map(|r| r.delta.clone()).collect();
    (intent, reservations, alert)
}

fn make_terminal(intent: &mut OrderIntent, status: IntentStatus, code: ReasonCode, message: String) {
    intent.status = status;
    intent.error_code = Some(code);
    intent.error_message = Some(message);
    intent.lease_until_ms = 0;
}

/// The claim's reservation undone: the order ended without reaching the exchange, or the exchange refused it.
/// The ORDER SKIPPED outbox row of an intent skipped for `code`, when that reason has a message (`amount`: the
/// order's USD amount, said when a risk limit held it back).
fn skipped_row(intent: &OrderIntent, code: ReasonCode, amount: Option<rust_decimal::Decimal>) -> Option<AlertRecord> {
    code.has_skipped_message().then(|| {
        let text = crate::messages::order_skipped_text(intent, code, amount);
        outbox_row(
            AlertRecord::skipped_id(&intent.idempotency_key),
            AlertKind::OrderSkipped,
            intent,
            text,
        )
    })
}

/// SELL_REQUIRES_POSITION: the system's fills hold (next to) none of the symbol's base currency.
fn nothing_held(symbol: &crate::ids::Symbol, held: rust_decimal::Decimal) -> (ReasonCode, String) {
    let base = money::base_currency(symbol);
    let why = format!(
        "the system holds no {base} ({} held): nothing to sell",
        held.normalize()
    );
    (ReasonCode::SellRequiresPosition, why)
}

fn released(intent: &OrderIntent) -> Vec<CounterDelta> {
    intent.reserved.iter().map(CounterDelta::released).collect()
}

/// A PENDING outbox row for an order's Telegram message, written by the finalize transaction.
fn outbox_row(alert_id: String, kind: AlertKind, intent: &OrderIntent, text: String) -> AlertRecord {
    AlertRecord {
        alert_id,
        kind,
        symbol: intent.symbol.clone(),
        side: intent.side,
        text,
        status: AlertStatus::Pending,
        telegram_message_id: None,
        attempts: 0,
        last_error: None,
        created_at: intent.updated_at,
        sent_at: None,
    }
}

fn skipped(code: ReasonCode, reason_message: String, existing: &OrderIntent, now: DateTime<Utc>) -> Decision {
    let mut d = decision_for(existing, now);
    d.decision_type = code.decision_type();
    d.reason_code = code;
    d.reason_message = reason_message;
    d.order_id = None;
    d
}
