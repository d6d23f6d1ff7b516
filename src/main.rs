//! The `rasad` command line: parses arguments, sets up logging, runs one command and maps its
//! outcome to an exit code (0 ok, 1 nothing found, 2 usage/config/input error, 3 runtime failure).

mod cli;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

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
    /// Try a topic on the stories the state kept: print the alerts it would have raised since
    /// --since (newest first: time, outlet, title, link, each matched word in its snippet, the
    /// other outlets of the same story) and how many stories each keyword hit. The daemon's
    /// matcher runs on each story's kept title and summary (4 KiB), as if the story were new;
    /// copies of one story make one alert. Exit 0 when it would alert, 1 when not, 2 on a
    /// usage or config error, 3 when the state cannot be read.
    Backtest {
        #[command(flatten)]
        config: ConfigArg,
        /// The id of a topic of the config to try.
        #[arg(
            long,
            value_name = "ID",
            required_unless_present_any = ["keywords", "names"],
            conflicts_with_all = ["keywords", "names"]
        )]
        topic: Option<String>,
        /// A keyword to try (repeatable; any of them alerts), as `rasad match -k` takes it.
        #[arg(short = 'k', long = "keyword", value_name = "K")]
        keywords: Vec<String>,
        /// A foreign name to try in the spellings the press gives it (repeatable), as
        /// `rasad match --name` takes it.
        #[arg(long = "name", value_name = "NAME")]
        names: Vec<String>,
        /// How far back to look (stories first seen since then); at most daemon.retention.
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        since: std::time::Duration,
        /// The most alerts printed (up to 1000); the counts cover every story.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=1000))]
        limit: u16,
        /// Print the report as one JSON object.
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
    /// Read a feed reader's OPML export (Feedly, Inoreader, Miniflux, NetNewsWire…) and print a
    /// `[[feed]]` table for every outline with an xmlUrl, to paste into the config. Folders
    /// become comments; names are kept as written (Arabic too); ids are made from the name's
    /// Latin letters, else the feed's host, and made unique. Outlines skipped (no xmlUrl, not
    /// http or https, a URL already listed) are noted on standard error with their line. Exit 1
    /// when the file lists no feed.
    ImportOpml {
        /// The OPML file (at most 10 MiB).
        file: PathBuf,
    },
    /// Print the config's feeds as an OPML 2.0 subscription list, for a feed reader or another
    /// rasad (`import-opml` reads it back to the same feeds). The URLs are printed as
    /// configured, with any login or token in them.
    ExportOpml {
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
    // A panic that the daemon catches (a feed parser's, on one body) is still printed by the
    // hook: its message bounded and escaped, for it may quote the feed.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(ToString::to_string).unwrap_or_default();
        eprintln!(
            "rasad: panicked at {at}: {}",
            rasad::panic_text(info.payload())
        );
        let trace = std::backtrace::Backtrace::capture();
        if trace.status() == std::backtrace::BacktraceStatus::Captured {
            eprintln!("{trace}");
        }
    }));
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
        Command::Run { config } => cli::run::run(config.config).await,
        Command::Once {
            config,
            dry_run: true,
            json,
        } => cli::once::dry_run(config.config, json).await,
        Command::Once {
            config,
            dry_run: false,
            json,
        } => cli::once::once(config.config, json).await,
        Command::Check { config } => cli::check::check(config.config),
        Command::Match {
            config,
            keywords,
            names,
            json,
        } => cli::match_stdin::match_stdin(config, keywords, names, json),
        Command::Outbox {
            config,
            json,
            action,
        } => cli::outbox::outbox(config, json, action).await,
        Command::NotifyTest { config, channel } => {
            cli::notify_test::notify_test(config.config, channel).await
        }
        Command::Feeds { config, json } => cli::feeds::feeds(config.config, json).await,
        Command::Parse {
            source,
            json,
            url,
            content_type,
        } => cli::parse::parse(source, json, url, content_type).await,
        Command::Cluster {
            file,
            window,
            threshold,
        } => cli::cluster::cluster(file, window, threshold).await,
        Command::Backtest {
            config,
            topic,
            keywords,
            names,
            since,
            limit,
            json,
        } => {
            cli::backtest::backtest_command(cli::backtest::Request {
                config: config.config,
                topic,
                keywords,
                names,
                since,
                limit: usize::from(limit),
                json,
            })
            .await
        }
        Command::ImportOpml { file } => cli::opml::import_opml(file),
        Command::ExportOpml { config } => cli::opml::export_opml(config.config),
        Command::Healthcheck { config } => cli::healthcheck::healthcheck(config.config).await,
    }
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
