//! The watchlist table: the `by_list` listing and the emission claim; its item mapping.

use super::*;

#[async_trait]
impl WatchlistStore for DynamoStore {
    /// The watchlist is a small configuration table read whole once per evaluator run.
    /// The symbols from the `by_list` index (keys only), then the rows by BatchGetItem with consistent reads, so
    /// the throttle state is current. No Scan.
    async fn list(&self) -> Result<Vec<WatchlistEntry>, StoreError> {
        let mut symbols = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.tables.watchlist)
                .index_name("by_list")
                .key_condition_expression("#l = :l")
                .expression_attribute_names("#l", "list")
                .expression_attribute_values(":l", s(WATCHLIST_LIST))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::backend("Query watchlist", e))?;
            symbols.extend(
                resp.items
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|i| opt_s(i, "symbol").map(str::to_string)),
            );
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        let rows = self.batch_get(&self.tables.watchlist, "symbol", &symbols).await?;
        let mut out = rows.iter().map(watchlist_from).collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Ok(out)
    }

    async fn record_emission(
        &self,
        symbol: &Symbol,
        side: Side,
        prev: Option<&Emission>,
        new: &Emission,
    ) -> Result<bool, StoreError> {
        let p = if side == Side::Buy { "last_buy" } else { "last_sell" };
        // The same claim already stored also passes: an SDK retry of this very write, whose first answer was lost
        // after it was applied, is then a success and not "another run was first".
        let (set_token, again) = match new.claim_token {
            Some(_) => (format!(", {p}_claim = :tok"), format!(" OR {p}_claim = :tok")),
            None => (String::new(), String::new()),
        };
        let mut req = self
            .client
            .update_item()
            .table_name(&self.tables.watchlist)
            .key("symbol", s(symbol.as_str()))
            .update_expression(format!(
                "SET {p}_ms = :ms, {p}_price = :price, {p}_signal_id = :sid, {p}_claimed_ms = :at{set_token}"
            ))
            .expression_attribute_values(":ms", n(new.candle_open_ms))
            .expression_attribute_values(":at", n(new.claimed_at_ms.unwrap_or_default()))
            .expression_attribute_values(":price", s(new.price.to_string()))
            .expression_attribute_values(":sid", s(new.signal_id.clone().unwrap_or_default()));
        if let Some(token) = &new.claim_token {
            req = req.expression_attribute_values(":tok", s(token.clone()));
        }
        req = match prev {
            None => req.condition_expression(format!(
                "attribute_exists(symbol) AND (attribute_not_exists({p}_ms){again})"
            )),
            Some(prev) => req
                .condition_expression(format!("attribute_exists(symbol) AND ({p}_ms = :prev{again})"))
                .expression_attribute_values(":prev", n(prev.candle_open_ms)),
        };
        match req.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(e) => Err(StoreError::backend("UpdateItem watchlist (throttle)", e)),
        }
    }
}

pub(super) fn emission(item: &Item, prefix: &str) -> Result<Option<Emission>, StoreError> {
    let ms_name = format!("{prefix}_ms");
    if !item.contains_key(&ms_name) {
        return Ok(None);
    }
    Ok(Some(Emission {
        candle_open_ms: req_n(item, &ms_name)?,
        price: req_decimal(item, &format!("{prefix}_price"))?,
        signal_id: opt_s(item, &format!("{prefix}_signal_id"))
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        claimed_at_ms: item
            .get(&format!("{prefix}_claimed_ms"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|ms| *ms > 0),
        claim_token: opt_s(item, &format!("{prefix}_claim"))
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    }))
}

pub(super) fn watchlist_from(item: &Item) -> Result<WatchlistEntry, StoreError> {
    let num = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<f64>().ok())
    };
    // An attribute that is absent reads as the model's default (`WatchlistEntry::new`), the same as serde's.
    let default = WatchlistEntry::new(symbol(item)?);
    Ok(WatchlistEntry {
        alert_enabled: opt_bool(item, "alert_enabled").unwrap_or(default.alert_enabled),
        trade_enabled: opt_bool(item, "trade_enabled").unwrap_or(default.trade_enabled),
        notify_order_placed: opt_bool(item, "notify_order_placed").unwrap_or(default.notify_order_placed),
        trade_amount_usd: match item.get("trade_amount_usd") {
            Some(AttributeValue::N(v)) | Some(AttributeValue::S(v)) => {
                parse("trade_amount_usd", v, |r| r.parse::<Decimal>())?
            }
            _ => default.trade_amount_usd,
        },
        preset: opt_s(item, "preset").map_or(default.preset, Setting::read),
        min_price_change_pct: num("min_price_change_pct"),
        cooldown_minutes: num("cooldown_minutes"),
        buy_target: num("buy_target"),
        volume_min_ratio: num("volume_min_ratio"),
        timeframe: opt_s(item, "timeframe").map(Setting::read),
        rsi_method: opt_s(item, "rsi_method").map(Setting::read),
        sell_held_elsewhere: opt_bool(item, "sell_held_elsewhere").unwrap_or(default.sell_held_elsewhere),
        protection: opt_bool(item, "protection").unwrap_or(default.protection),
        sl_percentage: opt_decimal(item, "sl_percentage")?,
        tp_percentage: opt_decimal(item, "tp_percentage")?,
        on_protection_failure: opt_s(item, "on_protection_failure").map(Setting::read),
        limits: risk::symbol_limits_from(item)?,
        last_buy: emission(item, "last_buy")?,
        last_sell: emission(item, "last_sell")?,
        symbol: default.symbol,
    })
}
