//! `rasad notify-test`: sends a test alert through one channel.

use std::path::PathBuf;
use std::process::ExitCode;

use rasad::model::SendOutcome;

use super::load;
use crate::{Failure, input, runtime_failure};

pub(crate) async fn notify_test(path: PathBuf, channel: String) -> Result<ExitCode, Failure> {
    let (runtime, _) = load(&path)?;
    let Some(sink) = runtime.sinks.get(&channel) else {
        let known: Vec<&str> = runtime
            .config
            .channels
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        return Err(input(anyhow::anyhow!(
            "no channel {channel:?} in {}; channels: {}",
            path.display(),
            known.join(", ")
        )));
    };
    let mut sample = rasad::sink::sample::sample_delivery();
    sample.channel = channel.clone();
    sample.idempotency_key = format!("notify-test-{}", uuid::Uuid::now_v7());
    let timeout = sink.pacing().timeout;
    let outcome = tokio::time::timeout(timeout, sink.send(&[&sample]))
        .await
        .unwrap_or_else(|_| SendOutcome::Retry {
            after: None,
            reason: format!("no answer within {timeout:?}"),
        });
    match outcome {
        SendOutcome::Delivered { answer } => {
            println!("{channel}: delivered; the server answered: {answer}");
            Ok(ExitCode::SUCCESS)
        }
        SendOutcome::Retry { reason, after } => Err(runtime_failure(anyhow::anyhow!(
            "{channel}: not delivered (would be retried{}): {reason}",
            after.map(|a| format!(" after {a:?}")).unwrap_or_default()
        ))),
        SendOutcome::Rejected { reason } => Err(runtime_failure(anyhow::anyhow!(
            "{channel}: refused (would not be retried): {reason}"
        ))),
    }
}
