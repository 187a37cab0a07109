//! Operating from Telegram (docs/DESIGN.md §11): the webhook's updates, the commands, and their answers. A command
//! acts through [`crate::flow::trading`], exactly as `./scripts/trading.sh` does.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::flow::trading::{self, Change, TradingError};
use crate::ids::Symbol;
use crate::order::Unrealized;
use crate::ports::{ControlStore, Prices};
use crate::report::invariants::Report;

/// The largest update body read (Telegram's updates are a few KB; anything bigger is not one).
pub const MAX_UPDATE_BYTES: usize = 64 * 1024;

/// The parts of a Telegram update the bot uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub update_id: i64,
    /// The chat the message came from (None: not a message, e.g. an edited one or a callback).
    pub chat_id: Option<i64>,
    pub text: Option<String>,
    /// Who sent it: `@username`, or the numeric user id.
    pub from: String,
}

#[derive(Deserialize)]
struct RawUpdate {
    update_id: i64,
    message: Option<RawMessage>,
}
#[derive(Deserialize)]
struct RawMessage {
    chat: RawChat,
    text: Option<String>,
    from: Option<RawUser>,
}
#[derive(Deserialize)]
struct RawChat {
    id: i64,
}
#[derive(Deserialize)]
struct RawUser {
    id: i64,
    username: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("update is larger than {MAX_UPDATE_BYTES} bytes")]
    TooLarge,
    #[error("update is not a Telegram update: {0}")]
    Json(#[from] serde_json::Error),
}

pub fn parse_update(body: &[u8]) -> Result<Update, UpdateError> {
    if body.len() > MAX_UPDATE_BYTES {
        return Err(UpdateError::TooLarge);
    }
    let raw: RawUpdate = serde_json::from_slice(body)?;
    let (chat_id, text, from) = match raw.message {
        Some(m) => {
            let from = m.from.map_or_else(
                || "unknown".to_string(),
                |u| u.username.map_or_else(|| u.id.to_string(), |n| format!("@{n}")),
            );
            (Some(m.chat.id), m.text, from)
        }
        None => (None, None, "unknown".to_string()),
    };
    Ok(Update {
        update_id: raw.update_id,
        chat_id,
        text,
        from,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Status,
    Halt(String),
    Resume,
    Limits,
    /// The positions the recorded fills hold (the last 30 days' orders).
    Positions,
    /// Realized P&L and fees from the recorded fills (the last 30 days' orders).
    Profit,
    Help,
    /// A short-lived link to the operator page (answered by the webhook, which holds the signing key).
    Page,
    /// Not a command this bot knows (the words as sent).
    Unknown(String),
    /// A command addressed to another bot (`/resume@OtherBot`): ignored, never answered.
    ForAnotherBot(String),
}

/// `/halt@MyBot exchange maintenance` → `Halt("exchange maintenance")` when this bot is `MyBot` (`bot`, compared
/// without case). A command with another bot's name — or with any name when this bot's is not configured — is
/// [`Command::ForAnotherBot`]: in a group with several bots, `/resume@OtherBot` must not resume this system's
/// trading. Text that is not a command is Unknown.
pub fn parse_command(text: &str, bot: Option<&str>) -> Command {
    let text = text.trim();
    let (head, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let (name, addressed) = match head.split_once('@') {
        Some((name, to)) => (name, Some(to)),
        None => (head, None),
    };
    if let Some(to) = addressed {
        if !bot.is_some_and(|b| b.trim_start_matches('@').eq_ignore_ascii_case(to)) {
            return Command::ForAnotherBot(crate::text::truncate(to, 60));
        }
    }
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "/status" => Command::Status,
        "/halt" | "/stop" => Command::Halt(rest.trim().to_string()),
        "/resume" | "/start_trading" => Command::Resume,
        "/limits" => Command::Limits,
        "/positions" => Command::Positions,
        "/profit" | "/pnl" => Command::Profit,
        "/help" | "/start" => Command::Help,
        "/page" => Command::Page,
        _ => Command::Unknown(crate::text::truncate(text, 60)),
    }
}

pub const HELP: &str = "Commands:\n/status: halt state, today's orders and notional against the limits, the last 24 h invariants report\n/halt REASON: stop trading at the next signal (no redeploy)\n/resume: trade again (re-arms the circuit breaker)\n/limits: the global risk limits\n/positions: what the recorded fills hold, per symbol\n/profit: realized P&L and fees from the recorded fills\n/page: a link to the operator page, good for 15 minutes\n/help: this list";

/// How far back /positions and /profit read orders (the report's longest window).
pub const LEDGER_HOURS: u32 = 720;

/// Runs a command from an allowed chat and returns the answer. `report` is the invariants report the command needs
/// (the last 24 h for /status, [`LEDGER_HOURS`] for /positions and /profit; None when it could not be computed).
pub async fn run(
    command: &Command,
    control: &dyn ControlStore,
    report: Option<&Report>,
    prices: Option<&dyn Prices>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<String, TradingError> {
    Ok(match command {
        Command::Status => {
            let status = trading::status(control, now).await?;
            let invariants = report.map_or_else(
                || "Invariants: report unavailable (see the logs)".to_string(),
                |r| {
                    format!(
                        "Invariants (24 h): {} · {} sent, {} placed, {} failed, {} held back by the risk guard, {} violations",
                        if r.pass { "PASS" } else { "FAIL" },
                        r.counts.sent_signals,
                        r.counts.placed,
                        r.counts.failed,
                        r.counts.risk_skipped,
                        r.violations.len()
                    )
                },
            );
            format!("{}\n{invariants}", status.text())
        }
        Command::Halt(reason) if reason.is_empty() => {
            "Say why: /halt REASON (the reason is what the next person reads).".to_string()
        }
        Command::Halt(reason) => match trading::halt(control, reason, by, now).await? {
            Change::Done(_) => format!("⛔ Trading HALTED by {by}: {reason}\nNo order is placed until /resume."),
            Change::Unchanged(c) => format!(
                "Already halted{}.",
                c.halt
                    .map(|h| format!(" by {} since {}: {}", h.by, crate::time::rfc3339(h.at), h.reason))
                    .unwrap_or_default()
            ),
        },
        Command::Resume => match trading::resume(control).await? {
            Change::Done(_) => format!("▶️ Trading RESUMED by {by}."),
            Change::Unchanged(_) => "Trading was not halted.".to_string(),
        },
        Command::Limits => {
            let c = trading::status(control, now).await?.control;
            format!(
                "Global limits: {}\nCircuit breaker: {}\nPer-symbol limits are on the watchlist rows.",
                trading::limits_text(&c.limits),
                c.breaker_failures.map_or_else(
                    || "off".to_string(),
                    |n| format!("halt after {n} consecutive account failures")
                ),
            )
        }
        Command::Positions => match report {
            Some(r) => positions_text(r, &marks(r, prices).await),
            None => unavailable(),
        },
        Command::Profit => report.map_or_else(unavailable, profit_text),
        Command::Help => HELP.to_string(),
        Command::Page => {
            "Operator page links are not set up here: the webhook needs the diagnostics key (DIAGNOSTICS_SECRET_ID) and the API's address (OPERATOR_PAGE_BASE_URL, or a call through API Gateway).".to_string()
        }
        Command::Unknown(text) => format!("Unknown command {text:?}.\n{HELP}"),
        Command::ForAnotherBot(bot) => format!("(a command for @{bot}: not this bot's; nothing changed)"),
    })
}

fn unavailable() -> String {
    "The ledger is unavailable right now (see the logs); nothing changed.".to_string()
}

/// Each open position marked at its last price now (`Err`: why not). No `prices`: none marked.
pub async fn marks(report: &Report, prices: Option<&dyn Prices>) -> Vec<(Symbol, Result<Unrealized, String>)> {
    let Some(prices) = prices else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in report.positions.iter().filter(|p| !p.quantity.is_zero()) {
        let quote = crate::money::quote_currency(&p.symbol);
        let marked = match prices.last_price(&p.symbol).await {
            Ok(last) => {
                let usd = match crate::money::UsdPrice::pegged(quote) {
                    Some(peg) => Some(peg),
                    None => prices.usd_price(quote).await.ok(),
                };
                p.unrealized(last, usd.as_ref())
                    .ok_or_else(|| format!("{last} {quote} is out of range"))
            }
            Err(e) => Err(format!("no last price: {e}")),
        };
        out.push((p.symbol.clone(), marked));
    }
    out
}

/// /positions: each symbol the recorded fills hold, with its cost and realized P&L, and what it would realize at the
/// last price now (`marks`, when asked for).
pub fn positions_text(report: &Report, marks: &[(Symbol, Result<Unrealized, String>)]) -> String {
    let open: Vec<_> = report.positions.iter().filter(|p| !p.quantity.is_zero()).collect();
    if open.is_empty() {
        return format!("No open position in the last {} days' fills.", LEDGER_HOURS / 24);
    }
    let lines: Vec<String> = open
        .iter()
        .map(|p| {
            let (base, quote) = p.symbol.as_str().split_once('_').unwrap_or((p.symbol.as_str(), ""));
            let held = format!(
                "{}: {} {base} at {} {quote} (cost per unit, fees included) · realized {} {quote} ≈ {:.2} USD",
                p.symbol,
                p.quantity,
                p.average_entry_price.round_dp(8).normalize(),
                p.realized_pnl_quote.round_dp(8).normalize(),
                p.realized_pnl_usd
            );
            // The latest entry's stop-loss and take-profit (docs/DESIGN.md §14), when it has one.
            let held = match &p.protection {
                Some(x) if !x.status.is_final() => format!(
                    "{held}\n  protection {}: stop {} {quote} · take-profit {} {quote}",
                    x.status, x.stop_price, x.take_profit_price
                ),
                Some(x) => format!("{held}\n  protection {}", x.status),
                None => held,
            };
            match marks.iter().find(|(s, _)| s == &p.symbol).map(|(_, m)| m) {
                None => held,
                Some(Ok(u)) => format!(
                    "{held}\n  unrealized at {} {quote} now: {} {quote}{}",
                    u.last_price.normalize(),
                    u.pnl_quote.round_dp(8).normalize(),
                    u.pnl_usd
                        .as_ref()
                        .map_or_else(|| " (no USD price now)".to_string(), |(v, _)| format!(" ≈ {v:.2} USD"))
                ),
                Some(Err(why)) => format!("{held}\n  unrealized: unknown ({why})"),
            }
        })
        .collect();
    format!("Positions (from the exchange's fills):\n{}", lines.join("\n"))
}

/// /profit: realized P&L per symbol and in all, in USD at the rates recorded with each order, fees included.
pub fn profit_text(report: &Report) -> String {
    if report.positions.is_empty() {
        return format!("No fills in the last {} days.", LEDGER_HOURS / 24);
    }
    let sum = |f: fn(&crate::order::Position) -> rust_decimal::Decimal| {
        report
            .positions
            .iter()
            .map(f)
            .fold(rust_decimal::Decimal::ZERO, |a, b| a.checked_add(b).unwrap_or(a))
    };
    let lines: Vec<String> = report
        .positions
        .iter()
        .map(|p| {
            format!(
                "{}: ≈ {:.2} USD (fees {:.2} USD)",
                p.symbol, p.realized_pnl_usd, p.fees_usd
            )
        })
        .collect();
    format!(
        "Realized P&L, last {} days (fees included):\n{}\nTotal: ≈ {:.2} USD (fees {:.2} USD)",
        LEDGER_HOURS / 24,
        lines.join("\n"),
        sum(|p| p.realized_pnl_usd),
        sum(|p| p.fees_usd)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_or_without_the_bot_name() {
        assert_eq!(parse_command("/status", None), Command::Status);
        assert_eq!(parse_command("/STATUS@SignalBot", Some("SignalBot")), Command::Status);
        assert_eq!(
            parse_command("/halt@SignalBot  exchange maintenance ", Some("SignalBot")),
            Command::Halt("exchange maintenance".into())
        );
        assert_eq!(parse_command("/halt", Some("SignalBot")), Command::Halt(String::new()));
        assert_eq!(parse_command("/resume", Some("SignalBot")), Command::Resume);
        assert_eq!(parse_command("/limits", Some("SignalBot")), Command::Limits);
        assert_eq!(parse_command("/help", Some("SignalBot")), Command::Help);
        assert_eq!(
            parse_command("/positions@SignalBot", Some("SignalBot")),
            Command::Positions
        );
        assert_eq!(parse_command("/profit", Some("SignalBot")), Command::Profit);
        assert_eq!(
            parse_command("buy everything", Some("SignalBot")),
            Command::Unknown("buy everything".into())
        );
        // Another bot's command, in a group with several bots, is not ours — nor is any addressed command when this
        // bot's name is not configured.
        assert_eq!(
            parse_command("/resume@OtherBot", Some("SignalBot")),
            Command::ForAnotherBot("OtherBot".into())
        );
        assert_eq!(
            parse_command("/halt@SignalBot x", None),
            Command::ForAnotherBot("SignalBot".into())
        );
        assert_eq!(parse_command("/status@signalbot", Some("@SignalBot")), Command::Status);
    }

    #[test]
    fn updates_parse_the_chat_the_text_and_the_sender() {
        let body = br#"{"update_id": 7, "message": {"message_id": 1, "date": 0, "chat": {"id": -100, "type": "group"},
            "from": {"id": 42, "is_bot": false, "first_name": "A", "username": "ops"}, "text": "/status"}}"#;
        let u = parse_update(body).unwrap();
        assert_eq!(
            (u.update_id, u.chat_id, u.text.as_deref(), u.from.as_str()),
            (7, Some(-100), Some("/status"), "@ops")
        );
        let edited = parse_update(br#"{"update_id": 8, "edited_message": {}}"#).unwrap();
        assert_eq!(edited.chat_id, None);
        assert!(parse_update(b"{}").is_err());
        assert!(parse_update(&vec![b' '; MAX_UPDATE_BYTES + 1]).is_err());
    }

    #[test]
    fn positions_and_profit_come_from_the_recorded_fills() {
        use crate::order::{Fill, OrderStatus};
        use crate::report::invariants::{evaluate, ReportQuery, Rows};
        use rust_decimal::Decimal;
        let now = Utc::now();
        let sym = crate::ids::Symbol::parse("ETH_USDT").unwrap();
        let filled = |side, candle, q: i64, price: i64| {
            let s = crate::fakes::sent_signal(&sym, side, candle, Decimal::from(price), now);
            let mut i = crate::fakes::placed_intent(&s, now + chrono::Duration::seconds(candle));
            i.fill = Some(Fill {
                status: OrderStatus::Filled,
                filled_quantity: Decimal::from(q),
                average_price: Decimal::from(price),
                fee: Decimal::ONE,
                fee_currency: "USDT".into(),
                updated_at: now,
                version: 1,
                increments: 1,
            });
            (i.idempotency_key.clone(), i)
        };
        let empty = evaluate(
            &ReportQuery::default(),
            &Rows::default(),
            now,
            chrono::Duration::seconds(120),
        );
        assert!(positions_text(&empty, &[]).starts_with("No open position"));
        let rows = Rows {
            intents: [
                filled(crate::ids::Side::Buy, 1, 2, 100),
                filled(crate::ids::Side::Sell, 2, 1, 150),
            ]
            .into(),
            ..Rows::default()
        };
        let r = evaluate(&ReportQuery::default(), &rows, now, chrono::Duration::seconds(120));
        // Bought 2 at 100 (+1 fee), sold 1 at 150 (−1 fee): 149 − 100.5 = 48.5.
        let positions = positions_text(&r, &[]);
        assert!(positions.contains("ETH_USDT: 1 ETH at 100.5 USDT"), "{positions}");
        let profit = profit_text(&r);
        assert!(profit.contains("Total: ≈ 48.50 USD (fees 2.00 USD)"), "{profit}");
    }

    #[tokio::test]
    async fn halt_needs_a_reason_and_is_idempotent() {
        let store = crate::fakes::MemoryStore::default();
        let now = Utc::now();
        let empty = run(&Command::Halt(String::new()), &store, None, None, "@ops", now)
            .await
            .unwrap();
        assert!(empty.starts_with("Say why"));
        assert!(store.control().await.unwrap().halt.is_none());
        let halted = run(&Command::Halt("maintenance".into()), &store, None, None, "@ops", now)
            .await
            .unwrap();
        assert!(halted.contains("HALTED by @ops: maintenance"), "{halted}");
        let again = run(&Command::Halt("other".into()), &store, None, None, "@x", now)
            .await
            .unwrap();
        assert!(again.starts_with("Already halted by @ops"), "{again}");
        let status = run(&Command::Status, &store, None, None, "@ops", now).await.unwrap();
        assert!(
            status.contains("HALTED") && status.contains("report unavailable"),
            "{status}"
        );
        assert_eq!(
            run(&Command::Resume, &store, None, None, "@ops", now).await.unwrap(),
            "▶️ Trading RESUMED by @ops."
        );
        assert!(store.control().await.unwrap().halt.is_none());
    }
}
