//! `ops dlq list | redrive`: the signal queue's dead-letter queue, read before it is redriven. Every message there
//! was refused by the orchestrator `maxReceiveCount` times (the reason is in its log, by message id). A redrive sends
//! each back to the signal queue; before it does, this says what the orchestrator will make of each: a message older
//! than `MAX_SIGNAL_AGE_SECONDS` (default 900, the orchestrator's) will end as SKIPPED STALE_SIGNAL — never as a late
//! order — and an unreadable one will be refused again.
//!
//! The queues are `SIGNALS_QUEUE_URL` and `SIGNALS_DLQ_URL` (the stack outputs `SignalsQueueUrl` and
//! `SignalsDeadLetterQueueUrl`). `redrive` without `--yes` only shows what it would do. Each message is sent to the
//! signal queue before it is deleted from the dead-letter queue: a crash between the two leaves it in both, and the
//! orchestrator decides a signal once however often its message arrives.

use std::process::ExitCode;

use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use shared::config::{ProcessEnv, Source};
use shared::signal::SignalMessage;

use crate::stack;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Every message in the dead-letter queue, and what a redrive would make of it
    List,
    /// Send every message back to the signal queue (shows what it would do, and does it only with --yes)
    Redrive {
        /// Do it (without: only show what a redrive would do)
        #[arg(long)]
        yes: bool,
    },
}

/// One message of the dead-letter queue and the forecast for it.
struct Dead {
    body: String,
    receipt: String,
    line: String,
    stale: bool,
}

/// What the orchestrator will make of `body` at `now`, in words, and whether it will be stale.
fn forecast(body: &str, max_age_s: i64, now: DateTime<Utc>) -> (String, bool) {
    match SignalMessage::parse(body) {
        Err(e) => (format!("unreadable ({e}): will be refused again"), false),
        Ok(m) => {
            let age = (now - m.emitted_at).num_seconds();
            let stale = age > max_age_s;
            let what = if stale {
                format!("STALE: will be SKIPPED as STALE_SIGNAL (older than {max_age_s} s), never ordered")
            } else {
                format!("will be decided (stale in {} s)", max_age_s - age)
            };
            (
                format!("{} {} {} emitted {} s ago: {what}", m.signal_id, m.side, m.symbol, age),
                stale,
            )
        }
    }
}

/// Every message in the dead-letter queue, each hidden for `hide_s` seconds once read.
async fn read_all(sqs: &aws_sdk_sqs::Client, dlq: &str, hide_s: i32, max_age_s: i64) -> Result<Vec<Dead>, String> {
    let now = Utc::now();
    let mut all = Vec::new();
    loop {
        let batch = sqs
            .receive_message()
            .queue_url(dlq)
            .max_number_of_messages(10)
            .visibility_timeout(hide_s)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| stack::error_chain(&e))?;
        let messages = batch.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(all);
        }
        for m in messages {
            let body = m.body.unwrap_or_default();
            let id = m.message_id.unwrap_or_default();
            let (what, stale) = forecast(&body, max_age_s, now);
            all.push(Dead {
                body,
                receipt: m.receipt_handle.unwrap_or_default(),
                line: format!("{id}: {what}"),
                stale,
            });
        }
    }
}

pub async fn run(args: &Args) -> Result<ExitCode, String> {
    let (queue, dlq) = (
        stack::setting("SIGNALS_QUEUE_URL", "SignalsQueueUrl")?,
        stack::setting("SIGNALS_DLQ_URL", "SignalsDeadLetterQueueUrl")?,
    );
    let max_age_s: i64 = match ProcessEnv.get("MAX_SIGNAL_AGE_SECONDS") {
        None => 900,
        Some(v) => v
            .parse()
            .map_err(|_| format!("MAX_SIGNAL_AGE_SECONDS is not a number: {v:?}"))?,
    };
    let aws = shared::adapters::aws::load().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let redrive = matches!(args.action, Action::Redrive { yes: true });
    // Each message read is hidden (so that a long queue is read once through); a listing shows them again at once.
    let dead = read_all(&sqs, &dlq, 300, max_age_s).await?;
    for d in &dead {
        println!("{}", d.line);
    }
    let stale = dead.iter().filter(|d| d.stale).count();
    eprintln!(
        "{} message(s) in the dead-letter queue, {stale} of them stale",
        dead.len()
    );
    if !redrive {
        show_again(&sqs, &dlq, &dead).await;
        if matches!(args.action, Action::Redrive { yes: false }) {
            eprintln!("nothing moved: run `ops dlq redrive --yes` to send them back to the signal queue");
        }
        return Ok(ExitCode::SUCCESS);
    }
    move_back(&sqs, &queue, &dlq, &dead).await?;
    let left = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .ok()
        .and_then(|a| a.attributes)
        .and_then(|mut a| a.remove(&QueueAttributeName::ApproximateNumberOfMessages))
        .unwrap_or_else(|| "?".into());
    eprintln!(
        "{} message(s) sent back to the signal queue; about {left} left in the dead-letter queue",
        dead.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Makes the messages a listing read visible again at once.
async fn show_again(sqs: &aws_sdk_sqs::Client, dlq: &str, dead: &[Dead]) {
    for d in dead {
        let shown = sqs
            .change_message_visibility()
            .queue_url(dlq)
            .receipt_handle(&d.receipt)
            .visibility_timeout(0);
        if let Err(e) = shown.send().await {
            eprintln!("a message stays hidden for up to 5 minutes: {}", stack::error_chain(&e));
        }
    }
}

/// Sends each message back to the signal queue, then deletes it from the dead-letter queue.
async fn move_back(sqs: &aws_sdk_sqs::Client, queue: &str, dlq: &str, dead: &[Dead]) -> Result<(), String> {
    for d in dead {
        sqs.send_message()
            .queue_url(queue)
            .message_body(&d.body)
            .send()
            .await
            .map_err(|e| format!("sending back failed (nothing deleted): {}", stack::error_chain(&e)))?;
        sqs.delete_message()
            .queue_url(dlq)
            .receipt_handle(&d.receipt)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "sent back but not deleted (it stays in both; decided once): {}",
                    stack::error_chain(&e)
                )
            })?;
    }
    Ok(())
}
