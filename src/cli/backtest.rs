//! `rasad backtest`: a topic of the config or a managed one, or keywords given here, tried on
//! the stories the state kept; prints the alerts it would have raised and a count per keyword.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;

use rasad::backtest::{BacktestAlert, BacktestHit, BacktestReport, Rule, backtest};
use rasad::config::{Config, check_managed_topic};
use rasad::matcher::TopicSpec;
use rasad::model::Field;
use rasad::source::display::terminal_safe;
use rasad::store::Store;
use rasad::wiring::topic_spec;

use super::open_state;
use crate::{Failure, input, runtime_failure};

/// What `rasad backtest` was asked.
pub(crate) struct Request {
    pub config: std::path::PathBuf,
    pub topic: Option<String>,
    pub keywords: Vec<String>,
    pub names: Vec<String>,
    pub since: Duration,
    pub limit: usize,
    pub json: bool,
}

pub(crate) async fn backtest_command(request: Request) -> Result<ExitCode, Failure> {
    let config = Config::load(&request.config).map_err(input)?;
    let store = open_state(&config).await?;
    let topic = match &request.topic {
        Some(id) => find_topic(&config, &store, id).await,
        None => Ok(ad_hoc_topic(request.keywords, request.names)),
    };
    let rule = topic.and_then(|topic| Rule::new(topic).map_err(input));
    let rule = match rule {
        Ok(rule) => rule,
        Err(failure) => {
            store.close().await;
            return Err(failure);
        }
    };
    if !rule.searches_kept_text() {
        eprintln!(
            "warning: the topic searches only the content, which stories do not keep: a backtest finds nothing"
        );
    }
    let since = if request.since > config.daemon.retention {
        eprintln!(
            "note: --since {} is longer than daemon.retention ({}): stories older than that are gone",
            humantime::format_duration(request.since),
            humantime::format_duration(config.daemon.retention)
        );
        config.daemon.retention
    } else {
        request.since
    };
    let since = chrono::Duration::from_std(since)
        .ok()
        .and_then(|d| chrono::Utc::now().checked_sub_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    let report = backtest(&store, &rule, since, request.limit).await;
    store.close().await;
    let report = report.map_err(runtime_failure)?;
    if request.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("a backtest report serialises")
        );
    } else {
        print_report(&report, std::io::stdout().is_terminal());
    }
    Ok(if report.alerts.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Topic `id` of the config, else the managed topic of that id (kept in the state), checked
/// against the config as the daemon checks it.
async fn find_topic(config: &Config, store: &Store, id: &str) -> Result<TopicSpec, Failure> {
    if let Some(topic) = config.topics.iter().find(|t| t.id == id) {
        return Ok(topic_spec(topic));
    }
    let managed = store.managed_topics().await.map_err(runtime_failure)?;
    if let Some(stored) = managed.iter().find(|t| t.id == id) {
        let topic = check_managed_topic(&stored.rule, config).map_err(|problems| {
            input(anyhow!(
                "managed topic {id:?} does not check against {}: {}",
                config.path.display(),
                problems.join("; ")
            ))
        })?;
        return Ok(topic_spec(&topic));
    }
    let known: Vec<&str> = config
        .topics
        .iter()
        .map(|t| t.id.as_str())
        .chain(managed.iter().map(|t| t.id.as_str()))
        .collect();
    Err(input(anyhow!(
        "no topic {id:?} in {} or among the managed topics; its topics: {}",
        config.path.display(),
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    )))
}

/// Keywords given on the command line, as `rasad match` takes them: any of them, every field.
fn ad_hoc_topic(keywords: Vec<String>, names: Vec<String>) -> TopicSpec {
    TopicSpec {
        id: None,
        any: super::command_line_keywords(keywords, names),
        all: Vec::new(),
        none: Vec::new(),
        fields: Field::ALL.to_vec(),
    }
}

/// The report as text: a line per alert with its link and matched words, then the counts.
fn print_report(report: &BacktestReport, terminal: bool) {
    for alert in &report.alerts {
        print_alert(alert, terminal);
    }
    let more = if report.truncated {
        " (the oldest left out: see --limit)"
    } else {
        ""
    };
    println!(
        "{} alert(s){more} from {} matching of {} stories since {}{}",
        report.alerts.len(),
        report.matched,
        report.stories,
        report.since.format("%Y-%m-%d %H:%M UTC"),
        if report.without_summary > 0 {
            format!(
                " ({} recorded before summaries were kept: titles only)",
                report.without_summary
            )
        } else {
            String::new()
        }
    );
    let width = report
        .keywords
        .iter()
        .map(|k| k.keyword.chars().count())
        .max()
        .unwrap_or(0);
    for count in &report.keywords {
        let pad = width - count.keyword.chars().count();
        println!(
            "  {}{}  {} stories",
            terminal_safe(&count.keyword),
            " ".repeat(pad),
            count.stories
        );
    }
}

fn print_alert(alert: &BacktestAlert, terminal: bool) {
    println!(
        "{}  {}  {}",
        alert.time.format("%Y-%m-%d %H:%M UTC"),
        terminal_safe(&alert.outlet),
        terminal_safe(&alert.title)
    );
    if let Some(url) = &alert.url {
        println!("    {}", terminal_safe(url));
    }
    for hit in &alert.hits {
        println!(
            "    {} ({}): {}",
            terminal_safe(&hit.keyword),
            hit.field.as_str(),
            highlighted(hit, terminal)
        );
    }
    if !alert.also_reported_by.is_empty() {
        let outlets: Vec<_> = alert
            .also_reported_by
            .iter()
            .map(|o| terminal_safe(o))
            .collect();
        println!("    also reported by: {}", outlets.join(", "));
    }
}

/// The snippet with the matched word marked: in reverse video on a terminal, else between `**`.
fn highlighted(hit: &BacktestHit, terminal: bool) -> String {
    let (open, close) = if terminal {
        ("\x1b[7m", "\x1b[0m")
    } else {
        ("**", "**")
    };
    let range = hit.highlight.clone();
    format!(
        "{}{open}{}{close}{}",
        terminal_safe(&hit.snippet[..range.start]),
        terminal_safe(&hit.snippet[range.clone()]),
        terminal_safe(&hit.snippet[range.end..])
    )
}
