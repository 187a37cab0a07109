//! `ops reconcile [--hours N]`: one reconciliation pass against a stack (docs/DESIGN.md §13), as the sweeper runs it
//! on its schedule: every placed order of the last N hours whose fill is not final (and every open order of any age)
//! is read from the exchange and recorded (with its ORDER EXECUTED messages), PENDING ORDER EXECUTED messages are sent
//! again, the open orders are checked for ghosts, and the loss breaker is checked. Prints what it changed, as JSON.
//!
//! It reads the orchestrator's settings from the environment — `LIVE_TRADING`, `PAPER_TRADING`, `EXCHANGE_BASE_URL`,
//! `EXCHANGE_SECRET_ID`, `PAPER_*`, the table names (`ORDER_INTENTS_TABLE`, `ALERTS_TABLE`, `RISK_TABLE`, …) and
//! `TELEGRAM_SECRET_ID` — so it reads the exchange that stack trades on. Running it twice, or beside the sweeper, is
//! safe: each fill is recorded and messaged once.

use std::process::ExitCode;

use chrono::Duration;
use shared::config::{ProcessEnv, TelegramConfig, TradingConfig};
use shared::flow::follow::Follower;
use shared::ports::{Clock, IntentStore, Stores};

use crate::stack;

#[derive(clap::Args)]
pub struct Args {
    /// How far back placed orders are read (open orders of any age are read too)
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(i64).range(1..=720))]
    hours: i64,
}

pub async fn run(args: &Args) -> Result<ExitCode, String> {
    pass(args.hours).await.map_err(|e| stack::error_chain(e.as_ref()))?;
    Ok(ExitCode::SUCCESS)
}

async fn pass(hours: i64) -> Result<(), shared::ports::BoxError> {
    let tables = stack::tables(&[
        ("ORDER_INTENTS_TABLE", "OrderIntentsTableName"),
        ("ALERTS_TABLE", "AlertsTableName"),
        ("RISK_TABLE", "RiskTableName"),
    ])?;
    let trading = TradingConfig::from_source(&ProcessEnv)?;
    let (aws, store) = stack::store(tables).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let telegram = TelegramConfig::from_source(&ProcessEnv);
    let (notifier, exchange) = shared::adapters::exchange::with_notifier(
        &secrets,
        &telegram,
        &trading,
        std::sync::Arc::new(shared::adapters::clock::SystemClock),
    )
    .await?;
    let clock = shared::adapters::clock::SystemClock;
    let now = clock.now();
    eprintln!("reconcile: {:?} mode, orders of the last {hours} h", trading.mode);
    let intents = store.intents_created_between(now - Duration::hours(hours), now).await?;
    let follower = Follower {
        stores: Stores::of(&store),
        exchange: exchange.as_ref(),
        notifier: &notifier,
        clock: &clock,
    };
    let mut fills = follower.follow_window_and_open(&intents, 10).await?;
    let window: Vec<&shared::order::OrderIntent> = intents.iter().collect();
    fills.executed_messages += follower.resend_executed(&window, Duration::seconds(120)).await?;
    let ghosts = shared::flow::ghosts::check(exchange.as_ref(), &store, &store, now).await?;
    let sold = shared::flow::breaker::sold_symbols(&intents);
    let dust = shared::flow::follow::dust(8);
    let halt = shared::flow::breaker::check_daily_loss(&store, &store, &sold, dust, now).await?;
    if let Err(e) = shared::flow::trading::announce_halt(&store, &notifier).await {
        eprintln!("reconcile: the TRADING HALTED message was not recorded as sent ({e}); the halt stands");
    }
    let out = serde_json::json!({
        "orders_read": fills.looked_up,
        "fills_recorded": fills.recorded,
        "executed_messages": fills.executed_messages,
        "unchanged": fills.unchanged,
        "not_found": fills.not_found,
        "unreadable": fills.unreadable,
        "raced": fills.raced,
        "ghost_orders": ghosts.map(|g| g.into_iter().map(|o| o.client_oid).collect::<Vec<_>>()),
        "loss_breaker_halted": halt.map(|h| h.reason),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
