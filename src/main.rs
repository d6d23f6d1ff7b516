//! The `rasad` command line: parses arguments, sets up logging, runs one command and maps its
//! outcome to an exit code (0 ok, 1 nothing found, 2 usage/config/input error, 3 runtime failure).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use rasad::app;
use rasad::config::Config;
use rasad::matcher::{KeywordOptions, KeywordSpec, Matcher};
use rasad::model::{Field, SendOutcome};
use rasad::runtime::{Runtime, topic_specs};
use rasad::source::display::terminal_safe;
use rasad::source::fetch::{FetchOutcome, Fetcher, Validators};
use rasad::source::parse::{BodyHints, parse_feed_with};
use rasad::store::Store;

/// rasad watches Arabic news feeds, finds your watch keywords with Arabic-aware matching, and
/// sends one durable alert per story by email, webhook or stdout.
#[derive(Debug, Parser)]
#[command(name = "rasad", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// The config file.
    #[arg(
        short,
        long,
        env = "RASAD_CONFIG",
        default_value = "/etc/rasad/rasad.toml"
    )]
    config: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: poll every feed on its schedule and deliver alerts until SIGTERM or
    /// SIGINT (SIGHUP reloads the config).
    Run {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Poll every feed once, send the alerts that are due, print a summary and exit. On a
    /// terminal a live line shows the feeds done, new stories and alerts while it runs.
    Once {
        #[command(flatten)]
        config: ConfigArg,
        /// Fetch and match, print what would alert, and write nothing to the state.
        #[arg(long)]
        dry_run: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the config file: exit 0 with a summary, or 2 with every problem listed.
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Find keywords in the text on standard input: exit 0 on a hit, 1 on none.
    Match {
        /// The config whose topics give the keywords (when no -k is given).
        #[arg(
            short,
            long,
            env = "RASAD_CONFIG",
            default_value = "/etc/rasad/rasad.toml"
        )]
        config: PathBuf,
        /// A keyword to look for (repeatable); replaces the config's topics.
        #[arg(short = 'k', long = "keyword")]
        keywords: Vec<String>,
        /// A foreign name to look for in the spellings the press gives it (repeatable): --name
        /// ماكاري finds مكاري; replaces the config's topics.
        #[arg(long = "name")]
        names: Vec<String>,
        /// Print one JSON object per hit.
        #[arg(long)]
        json: bool,
    },
    /// List the deliveries not yet delivered (pending, retrying, in flight, dead) with their
    /// last error; `outbox retry ID` or `outbox retry --dead` puts them back in the queue.
    Outbox {
        /// The config file.
        #[arg(
            short,
            long,
            env = "RASAD_CONFIG",
            default_value = "/etc/rasad/rasad.toml",
            global = true
        )]
        config: PathBuf,
        /// Print one JSON object per delivery.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<OutboxAction>,
    },
    /// Send a sample Arabic alert through one channel and show what its server answered.
    NotifyTest {
        #[command(flatten)]
        config: ConfigArg,
        /// The channel id.
        channel: String,
    },
    /// Show each feed's health from the state: last attempt and success, failures, next poll;
    /// a feed failing for a day or more is flagged FAILING.
    Feeds {
        #[command(flatten)]
        config: ConfigArg,
        /// Print one JSON object per feed.
        #[arg(long)]
        json: bool,
    },
    /// Group feed items into stories as the daemon does: reads JSON Lines items (`id`, `outlet`,
    /// `feed_url`, `guid`, `link`, `title`, `summary`, `published`), takes them in publication
    /// order, and prints one `{"id", "cluster"}` line per item.
    Cluster {
        /// A JSON Lines file of items.
        file: PathBuf,
        /// Only items published this close to each other can be one story.
        #[arg(long, default_value = "36h", value_parser = humantime::parse_duration)]
        window: std::time::Duration,
        /// The similarity two stories published at the same moment need (for evaluation; the
        /// daemon uses the default).
        #[arg(long, default_value_t = rasad::dedupe::ClusterPolicy::default().threshold)]
        threshold: f64,
    },
    /// Ask the running daemon's /readyz (at `daemon.listen`): exit 0 when ready, 1 when not,
    /// 3 when it does not answer.
    Healthcheck {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Parse one feed (a file or an http(s) URL) and print its items.
    Parse {
        /// A feed file or URL.
        source: String,
        /// Print the feed as JSON (the shape the peer suites read).
        #[arg(long)]
        json: bool,
        /// The URL a file was served from: relative links resolve against it.
        #[arg(long, alias = "base-url", value_name = "URL")]
        url: Option<String>,
        /// The HTTP Content-Type a file was served with (its charset is honoured).
        #[arg(long, value_name = "CT")]
        content_type: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum OutboxAction {
    /// Put a dead or waiting delivery back in the queue, due now.
    Retry {
        /// The delivery id (as `rasad outbox` lists it).
        #[arg(required_unless_present = "dead", conflicts_with = "dead")]
        id: Option<i64>,
        /// Put back every dead delivery.
        #[arg(long)]
        dead: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("rasad: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(Failure::Input(e)) => {
            eprintln!("rasad: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("rasad: {e:#}");
            ExitCode::from(3)
        }
    }
}

/// Why a command failed: bad input (exit 2) or a failure while running (exit 3).
enum Failure {
    Input(anyhow::Error),
    Runtime(anyhow::Error),
}

fn input<E: Into<anyhow::Error>>(e: E) -> Failure {
    Failure::Input(e.into())
}

fn runtime_failure<E: Into<anyhow::Error>>(e: E) -> Failure {
    Failure::Runtime(e.into())
}

async fn dispatch(command: Command) -> Result<ExitCode, Failure> {
    match command {
        Command::Run { config } => run(config.config).await,
        Command::Once {
            config,
            dry_run: true,
            json,
        } => dry_run(config.config, json).await,
        Command::Once {
            config,
            dry_run: false,
            json,
        } => once(config.config, json).await,
        Command::Check { config } => check(config.config),
        Command::Match {
            config,
            keywords,
            names,
            json,
        } => match_stdin(config, keywords, names, json),
        Command::Outbox {
            config,
            json,
            action,
        } => outbox(config, json, action).await,
        Command::NotifyTest { config, channel } => notify_test(config.config, channel).await,
        Command::Feeds { config, json } => feeds(config.config, json).await,
        Command::Parse {
            source,
            json,
            url,
            content_type,
        } => parse(source, json, url, content_type).await,
        Command::Cluster {
            file,
            window,
            threshold,
        } => cluster(file, window, threshold).await,
        Command::Healthcheck { config } => healthcheck(config.config).await,
    }
}

fn load(path: &std::path::Path) -> Result<(Runtime, Vec<String>), Failure> {
    let config = Config::load(path).map_err(input)?;
    let warnings = config.warnings();
    let runtime = Runtime::build(config)
        .context("cannot build the config")
        .map_err(input)?;
    Ok((runtime, warnings))
}

async fn open_store(runtime: &Runtime) -> Result<Store, Failure> {
    open_state(&runtime.config).await
}

/// The store the config names, holding leases as this config's instance.
async fn open_state(config: &Config) -> Result<Store, Failure> {
    Ok(Store::open(&config.daemon.state)
        .await
        .map_err(runtime_failure)?
        .with_instance(&config.daemon.instance))
}

async fn run(path: PathBuf) -> Result<ExitCode, Failure> {
    let (runtime, warnings) = load(&path)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    tracing::info!(config = %path.display(), summary = %runtime.config.summary(), "starting");
    let store = open_store(&runtime).await?;
    // A taken port costs the admin server, not the alerts: rasad polls and delivers without it.
    let admin = match runtime.config.daemon.listen {
        Some(addr) => match rasad::server::bind(addr).await {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::error!(error = %e, "running without the admin HTTP server");
                None
            }
        },
        None => None,
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    app::run(path, runtime, store, admin, shutdown)
        .await
        .map_err(runtime_failure)?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Cancels `shutdown` on the first SIGTERM or SIGINT.
async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for SIGTERM/SIGINT");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    shutdown.cancel();
}

async fn once(path: PathBuf, json: bool) -> Result<ExitCode, Failure> {
    let (runtime, _) = load(&path)?;
    let store = open_store(&runtime).await?;
    let progress = rasad::progress::Progress::on_terminal(runtime.config.feeds.len());
    let summary = app::once(Arc::new(runtime), &store, progress.counts()).await;
    progress.finish().await;
    let summary = summary.map_err(runtime_failure)?;
    store.close().await;
    if json {
        println!(
            "{}",
            serde_json::to_string(&summary).expect("a summary serialises")
        );
    } else {
        println!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn dry_run(path: PathBuf, json: bool) -> Result<ExitCode, Failure> {
    let (runtime, _) = load(&path)?;
    let matches = app::dry_run(&runtime).await;
    for m in &matches {
        if json {
            println!(
                "{}",
                serde_json::to_string(m).expect("a dry-run match serialises")
            );
        } else {
            println!(
                "{} [{}] {} ({})",
                m.feed,
                m.topics.join(", "),
                terminal_safe(&m.title),
                terminal_safe(m.url.as_deref().unwrap_or("no link"))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check(path: PathBuf) -> Result<ExitCode, Failure> {
    match Config::load(&path) {
        Ok(config) => {
            for warning in config.warnings() {
                eprintln!("warning: {warning}");
            }
            println!("{}: ok: {}", path.display(), config.summary());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(input(e)),
    }
}

fn match_stdin(
    config: PathBuf,
    keywords: Vec<String>,
    names: Vec<String>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let matcher = if keywords.is_empty() && names.is_empty() {
        Matcher::new(topic_specs(&Config::load(&config).map_err(input)?))
    } else {
        for name in &names {
            if let Some(strict) = rasad::matcher::strictness(name) {
                eprintln!("warning: name {name:?} is matched only as written: {strict}");
            }
        }
        let names = names.into_iter().map(|term| KeywordSpec {
            term,
            options: KeywordOptions {
                name: true,
                ..KeywordOptions::default()
            },
        });
        Matcher::from_keywords(
            keywords
                .into_iter()
                .map(KeywordSpec::plain)
                .chain(names)
                .collect(),
        )
    }
    .map_err(input)?;
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read standard input as UTF-8")
        .map_err(input)?;
    let hits = matcher.find_relevant(&[(Field::Title, &text)]);
    for hit in &hits {
        let matched = &text[hit.token_span.clone()];
        if json {
            let mut line = serde_json::json!({
                "topic": hit.topic,
                "keyword": hit.keyword,
                "field": "text",
                "keyword_span": [hit.keyword_span.start, hit.keyword_span.end],
                "token_span": [hit.token_span.start, hit.token_span.end],
                "matched": matched,
            });
            if hit.name
                && let serde_json::Value::Object(map) = &mut line
            {
                // Only name hits carry it, so plain keywords print exactly as before.
                map.insert("name".to_owned(), true.into());
            }
            println!("{line}");
        } else {
            let topic = hit.topic.as_deref().unwrap_or("-");
            println!(
                "{topic}\t{}\t{}\t{}..{}",
                terminal_safe(&hit.keyword),
                terminal_safe(matched),
                hit.token_span.start,
                hit.token_span.end
            );
        }
    }
    Ok(if hits.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn feeds(path: PathBuf, json: bool) -> Result<ExitCode, Failure> {
    use rasad::source::health;
    let config = Config::load(&path).map_err(input)?;
    let store = open_state(&config).await?;
    let known = store.feed_health().await.map_err(runtime_failure)?;
    store.close().await;
    let configured: Vec<(String, String)> = config
        .feeds
        .iter()
        .map(|f| (f.id.clone(), f.url.to_string()))
        .collect();
    let now = chrono::Utc::now();
    for row in health::rows(&configured, &known, now) {
        if json {
            println!(
                "{}",
                serde_json::to_string(&row).expect("a feed row serialises")
            );
        } else {
            println!("{}", health::line(&row, now));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn parse(
    source: String,
    json: bool,
    base: Option<String>,
    content_type: Option<String>,
) -> Result<ExitCode, Failure> {
    let mut content_type = content_type.filter(|ct| !ct.is_empty());
    let mut base = match base.filter(|u| !u.is_empty()) {
        Some(u) => Some(url::Url::parse(&u).context("bad --url").map_err(input)?),
        None => None,
    };
    let body = if source.starts_with("http://") || source.starts_with("https://") {
        let url = url::Url::parse(&source).context("bad URL").map_err(input)?;
        let fetcher = Fetcher::new(
            concat!("rasad/", env!("CARGO_PKG_VERSION")),
            std::time::Duration::from_secs(10),
            std::time::Duration::from_secs(30),
            10 << 20,
        )
        .map_err(runtime_failure)?;
        match fetcher.fetch(&url, &Validators::default()).await {
            FetchOutcome::Modified {
                body,
                content_type: served_as,
                ..
            } => {
                content_type = content_type.or(served_as);
                base = base.or(Some(url));
                body
            }
            FetchOutcome::Failed(e) => {
                return Err(runtime_failure(anyhow::anyhow!("{source}: {e}")));
            }
            other => return Err(runtime_failure(anyhow::anyhow!("{source}: {other:?}"))),
        }
    } else {
        std::fs::read(&source)
            .with_context(|| format!("cannot read {source}"))
            .map_err(input)?
    };
    let hints = BodyHints {
        content_type: content_type.as_deref(),
        url: base.as_ref(),
    };
    let feed = parse_feed_with(&body, hints)
        .with_context(|| source.clone())
        .map_err(input)?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&feed).expect("a parsed feed serialises")
        );
    } else {
        println!(
            "{} ({} entries)",
            terminal_safe(feed.feed.title.as_deref().unwrap_or("untitled feed")),
            feed.entries.len()
        );
        for entry in &feed.entries {
            let when = entry
                .published
                .or(entry.updated)
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "no date".into());
            println!(
                "- {} [{when}] {}",
                terminal_safe(entry.title.as_deref().unwrap_or("(no title)")),
                terminal_safe(entry.link.as_deref().unwrap_or(""))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn outbox(
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

fn print_outbox(entries: &[rasad::store::OutboxEntry], json: bool) {
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

async fn notify_test(path: PathBuf, channel: String) -> Result<ExitCode, Failure> {
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

/// Asks the daemon's `/readyz` and prints its answer.
async fn healthcheck(path: PathBuf) -> Result<ExitCode, Failure> {
    let config = Config::load(&path).map_err(input)?;
    let Some(addr) = config.daemon.listen else {
        return Err(input(anyhow::anyhow!(
            "daemon.listen is \"\" in {}: the admin HTTP server is off",
            path.display()
        )));
    };
    let (ready, body) = rasad::server::ask_ready(addr)
        .await
        .map_err(runtime_failure)?;
    print!("{body}");
    Ok(if ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Whether standard error is the journal stream systemd gave us: `JOURNAL_STREAM` names its
/// device and inode, so a child process that merely inherited the variable is not fooled.
fn stderr_is_the_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let stat = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata());
    matches!(stat, Ok(m) if dev.parse() == Ok(m.dev()) && ino.parse() == Ok(m.ino()))
}

/// Logs to standard error (text on a terminal or plain, or JSON), or straight to the journal
/// with its fields when systemd connected standard error to it (`JOURNAL_STREAM`).
/// One item of `rasad cluster`'s input.
#[derive(Debug, serde::Deserialize)]
struct ClusterItem {
    id: String,
    #[serde(default)]
    outlet: Option<String>,
    feed_url: url::Url,
    #[serde(default)]
    guid: Option<String>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    published: chrono::DateTime<chrono::FixedOffset>,
}

async fn cluster(
    file: PathBuf,
    window: std::time::Duration,
    threshold: f64,
) -> Result<ExitCode, Failure> {
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))
        .map_err(input)?;
    let mut items = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let item: ClusterItem = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not an item", file.display(), n + 1))
            .map_err(input)?;
        items.push(item);
    }
    items.sort_by_key(|i| i.published);
    let dir = std::env::temp_dir().join(format!("rasad-cluster-{}", uuid::Uuid::now_v7()));
    let store = Store::open(&dir.join("state.db"))
        .await
        .map_err(runtime_failure)?;
    let mut config = Config::parse("", &dir.join("rasad.toml")).map_err(input)?;
    config.daemon.cluster_window = window;
    let matcher = Matcher::new(Vec::new()).map_err(input)?;
    let mut out = Vec::new();
    for item in &items {
        let published = item.published.with_timezone(&chrono::Utc);
        let feed = rasad::config::Feed {
            id: item.feed_url.to_string(),
            name: item
                .outlet
                .clone()
                .unwrap_or_else(|| item.feed_url.to_string()),
            url: item.feed_url.clone(),
            interval: std::time::Duration::from_secs(300),
        };
        let story = rasad::model::Story {
            feed: feed.id.clone(),
            key: String::new(),
            title: item.title.clone(),
            summary_html: item.summary.clone(),
            summary: item.summary.clone(),
            content_html: String::new(),
            content: String::new(),
            url: item.link.clone(),
            guid: item.guid.clone(),
            published: Some(published),
            fetched: published,
        };
        let policy = rasad::dedupe::ClusterPolicy {
            threshold,
            ..config.daemon.cluster_policy()
        };
        let cluster =
            rasad::pipeline::record_read(&config, &feed, &matcher, &store, story, &policy)
                .await
                .map_err(runtime_failure)?;
        out.push((item.id.clone(), cluster));
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    for (id, cluster) in out {
        let cluster = cluster.map_or_else(|| "null".to_owned(), |c| c.to_string());
        println!(
            "{{\"id\": {}, \"cluster\": {cluster}}}",
            serde_json::Value::from(id)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer, Registry};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let journald = (matches!(format, LogFormat::Text) && stderr_is_the_journal())
        .then(tracing_journald::layer)
        .and_then(Result::ok)
        .map(|layer| layer.with_syslog_identifier("rasad".into()));
    let stderr: Option<Box<dyn Layer<Registry> + Send + Sync>> = match (&journald, format) {
        (Some(_), _) => None,
        (None, LogFormat::Json) => Some(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::io::stderr)
                .boxed(),
        ),
        (None, LogFormat::Text) => Some(
            tracing_subscriber::fmt::layer()
                .with_writer(rasad::progress::log_writer)
                .with_ansi(std::io::stderr().is_terminal())
                .boxed(),
        ),
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(journald)
        .with(filter)
        .init();
}
