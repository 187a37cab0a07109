//! Ghost orders (docs/DESIGN.md §13): orders the exchange holds open whose client_oid has this system's form but
//! that no intent accounts for — an order the system placed and lost track of, or one placed with a forged id. Found
//! by the sweeper's reconciliation from `private/get-open-orders` against the intents of the last 30 days, kept as a
//! snapshot in the risk table, and reported (GHOST_ORDER) until the exchange no longer holds them.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};

use crate::ids::ClientOid;
use crate::order::OpenOrder;
use crate::ports::{ControlStore, Exchange, IntentStore, StoreError};

/// How far back intents are matched against the open orders.
pub const MATCH_DAYS: i64 = 30;

/// The open orders of this system's form that match no intent.
pub fn ghosts(open: &[OpenOrder], known: &HashSet<ClientOid>) -> Vec<OpenOrder> {
    open.iter()
        .filter(|o| ClientOid::is_system_form(&o.client_oid))
        .filter(|o| ClientOid::parse(&o.client_oid).map_or(true, |oid| !known.contains(&oid)))
        .cloned()
        .collect()
}

/// Reads the open orders and records the ghosts among them. Ok(None): the exchange could not be read (the last
/// snapshot stands, and the next run looks again).
pub async fn check(
    exchange: &dyn Exchange,
    intents: &dyn IntentStore,
    control: &dyn ControlStore,
    now: DateTime<Utc>,
) -> Result<Option<Vec<OpenOrder>>, StoreError> {
    let open = match exchange.open_orders().await {
        Ok(open) => open,
        Err(e) => {
            tracing::warn!(error = %e, "open orders not read; ghost orders not checked this run");
            return Ok(None);
        }
    };
    // Only orders of this system's form can be ghosts: without one (the paper exchange, an account traded by this
    // system alone and all filled) the intents need not be read.
    if !open.iter().any(|o| ClientOid::is_system_form(&o.client_oid)) {
        control.record_ghost_orders(&[], now).await?;
        return Ok(Some(Vec::new()));
    }
    // An entry's protective legs are this system's too (docs/DESIGN.md §14); a protection outlives the 30 days,
    // so the entries still open (their protection not final, whatever their age) are matched as well.
    let mut recent = intents
        .intents_created_between(now - Duration::days(MATCH_DAYS), now)
        .await?;
    recent.extend(intents.open_orders().await?);
    let known: HashSet<ClientOid> = recent
        .iter()
        .flat_map(|i| {
            let legs = i
                .protection
                .as_ref()
                .map(|p| p.client_oids(&i.idempotency_key))
                .unwrap_or_default();
            std::iter::once(i.client_oid.clone()).chain(legs)
        })
        .collect();
    let found = ghosts(&open, &known);
    for g in &found {
        tracing::error!(client_oid = %g.client_oid, order_id = %g.order_id, symbol = %g.symbol,
            "ghost order: open on the exchange with this system's client_oid form, no intent");
    }
    control.record_ghost_orders(&found, now).await?;
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{IdempotencyKey, Side, SignalId, Symbol};

    #[test]
    fn only_system_ids_without_an_intent_are_ghosts() {
        let sym = Symbol::parse("ETH_USDT").unwrap();
        let key = |ms| IdempotencyKey::for_signal(&SignalId::new(&sym, Side::Buy, ms));
        let order = |oid: String| OpenOrder {
            client_oid: oid,
            order_id: "1".into(),
            symbol: "ETH_USDT".into(),
            side: "BUY".into(),
        };
        let known = HashSet::from([key(1).client_oid()]);
        let open = [
            order(key(1).client_oid().to_string()),
            order(key(2).client_oid().to_string()),
            order("manual-order-from-the-app".into()),
            order(String::new()),
        ];
        assert_eq!(ghosts(&open, &known), [order(key(2).client_oid().to_string())]);
    }
}
