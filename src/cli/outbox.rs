//! `rasad outbox`: lists, retries or drops deliveries waiting in the outbox.

use std::path::PathBuf;
use std::process::ExitCode;

use rasad::config::Config;
use rasad::source::display::terminal_safe;

use super::open_state;
use crate::{Failure, OutboxAction, input, runtime_failure};

pub(crate) async fn outbox(
    path: PathBuf,
    json: bool,
    action: Option<OutboxAction>,
) -> Result<ExitCode, Failure> {
    let config = Config::load(&path).map_err(input)?;
    let store = open_state(&config).await?;
    let now = chrono::Utc::now();
    let result = match action {
        Some(OutboxAction::Retry { dead: true, .. }) => {
            let n = store.requeue_dead(now).await.map_err(runtime_failure)?;
            println!("{n} dead deliveries put back in the queue");
            Ok(ExitCode::SUCCESS)
        }
        Some(OutboxAction::Retry { id: Some(id), .. }) => {
            if store.requeue(id, now).await.map_err(runtime_failure)? {
                println!("delivery {id} put back in the queue");
                Ok(ExitCode::SUCCESS)
            } else {
                Err(input(anyhow::anyhow!(
                    "no undelivered delivery with id {id}"
                )))
            }
        }
        Some(OutboxAction::Retry { id: None, .. }) => {
            Err(input(anyhow::anyhow!("give a delivery id or --dead")))
        }
        None => {
            let entries = store.outbox_entries(now).await.map_err(runtime_failure)?;
            print_outbox(&entries, json);
            Ok(ExitCode::SUCCESS)
        }
    };
    store.close().await;
    result
}

pub(crate) fn print_outbox(entries: &[rasad::store::OutboxEntry], json: bool) {
    if json {
        for entry in entries {
            println!(
                "{}",
                serde_json::to_string(entry).expect("an outbox entry serialises")
            );
        }
        return;
    }
    if entries.is_empty() {
        println!("nothing waiting: no pending, retrying or dead deliveries");
        return;
    }
    println!("ID\tCHANNEL\tSTATE\tATTEMPTS\tNEXT ATTEMPT\tTOPIC\tTITLE\tLAST ERROR\tHELD BY");
    for e in entries {
        let next = e
            .next_attempt_at
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{}\t{}\t{}\t{}\t{next}\t{}\t{}\t{}\t{}",
            e.id,
            e.channel,
            e.state,
            e.attempts,
            e.topic,
            terminal_safe(&e.title),
            terminal_safe(e.last_error.as_deref().unwrap_or("-")),
            terminal_safe(e.held_by.as_deref().unwrap_or("-"))
        );
    }
}
