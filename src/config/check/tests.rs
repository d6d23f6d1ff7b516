//! Tests of the config checks as a whole: a good file, every mistake reported with its path and
//! line, sizes, the state location, secrets from the environment or a file, the admin address.

use super::*;

fn problems(toml_text: &str) -> Vec<String> {
    match Config::parse(toml_text, Path::new("/etc/rasad/rasad.toml")) {
        Ok(_) => Vec::new(),
        Err(ConfigError::Invalid { problems, .. }) => {
            problems.iter().map(|p| p.to_string()).collect()
        }
        Err(other) => vec![other.to_string()],
    }
}

const GOOD: &str = r#"
[daemon]
state = "state/rasad.db"

[[feed]]
id = "bbc"
url = "https://feeds.bbci.co.uk/arabic/rss.xml"

[[topic]]
id = "isis"
any = ["داعش", { term = "تنظيم الدولة", aliases = ["الدولة الإسلامية"] }]
notify = ["out"]

[[channel]]
id = "out"
kind = "stdout"
"#;

#[test]
fn accepts_a_good_config_and_applies_defaults() {
    let config = Config::parse(GOOD, Path::new("/etc/rasad/rasad.toml")).expect("valid");
    assert_eq!(
        config.daemon.state,
        StateLocation::File(PathBuf::from("/etc/rasad/state/rasad.db"))
    );
    assert_eq!(config.daemon.lease, DEFAULT_LEASE);
    assert!(!config.daemon.instance.is_empty());
    assert_eq!(config.poll.interval, Duration::from_secs(300));
    assert_eq!(config.poll.max_body, 10 << 20);
    assert_eq!(config.poll.cpu_deadline, Duration::from_secs(60));
    assert!(!config.poll.alert_on_first_poll);
    let terms: Vec<&str> = config.topics[0]
        .any
        .iter()
        .map(|k| k.term.as_str())
        .collect();
    assert_eq!(terms, ["داعش", "تنظيم الدولة", "الدولة الإسلامية"]);
    assert_eq!(
        config.summary().split(';').next(),
        Some("1 feeds, 1 topics, 3 keywords, 1 channels")
    );
}

/// A table of named cases, one row per case: it is as long as its table, and reads top to bottom.
#[test]
fn reports_each_mistake_with_its_path_and_line() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "duplicate_feed_id",
            "[[feed]]\nid = \"bbc\"\nurl = \"https://b.example/rss\"\n",
            "line 18: feed[2].id: duplicate id \"bbc\"",
        ),
        (
            "bad_url_scheme",
            "[[feed]]\nid = \"ftp\"\nurl = \"ftp://b.example/rss\"\n",
            "feed[2].url: \"ftp://b.example/rss\" must be http, https or file",
        ),
        (
            "unknown_channel",
            "[[topic]]\nid = \"x\"\nany = [\"y\"]\nnotify = [\"nope\"]\n",
            "topic[2].notify[1]: unknown channel \"nope\"",
        ),
        (
            "empty_keyword_list",
            "[[topic]]\nid = \"x\"\nany = []\nnotify = [\"out\"]\n",
            "topic[2].any: needs at least one keyword",
        ),
        (
            "inline_secret",
            "[[channel]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"https://h.example/\"\nsecret = \"s3cret\"\n",
            "channel[2].secret: secrets never sit in the config file",
        ),
        (
            "bad_duration",
            "[poll]\ninterval = \"5 parsecs\"\n",
            "poll.interval: \"5 parsecs\" is not a duration",
        ),
        (
            "interval_of_a_year",
            "[poll]\ninterval = \"1year\"\n",
            "poll.interval: \"1year\" is too long: it must be under 1year",
        ),
        (
            // `now + timeout` would be past the end of the calendar.
            "timeout_of_ten_million_years",
            "[poll]\ntimeout = \"10000000years\"\n",
            "poll.timeout: \"10000000years\" is too long",
        ),
        (
            "feed_interval_of_two_years",
            "[[feed]]\nid = \"slow\"\nurl = \"https://b.example/rss\"\ninterval = \"2years\"\n",
            "feed[2].interval: \"2years\" is too long: it must be under 1year",
        ),
        (
            "min_interval_above_max",
            "[poll]\nmin_interval = \"2h\"\nmax_interval = \"1h\"\n",
            "poll.min_interval: 2h is longer than poll.max_interval (1h)",
        ),
        (
            "jitter_out_of_range",
            "[poll]\njitter = 0.9\n",
            "poll.jitter: must be a fraction from 0 to 0.5, not 0.9",
        ),
        (
            "cpu_deadline_zero",
            "[poll]\ncpu_deadline = \"0s\"\n",
            "poll.cpu_deadline: must be longer than zero",
        ),
        (
            "per_host_zero",
            "[poll]\nper_host = 0\n",
            "poll.per_host: must be a positive number, not 0",
        ),
        (
            "missing_env_secret",
            "[[channel]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"https://h.example/\"\nsecret_env = \"RASAD_TEST_SURELY_UNSET\"\n",
            "channel[2].secret_env: environment variable RASAD_TEST_SURELY_UNSET is not set",
        ),
        (
            "email_key_on_webhook",
            "[[channel]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"https://h.example/\"\nsmtp_host = \"mail\"\n",
            "channel[2].smtp_host: is not used by a webhook channel",
        ),
        (
            "email_without_recipient",
            "[[channel]]\nid = \"mail\"\nkind = \"email\"\nsmtp_host = \"mail\"\nfrom = \"a@b.example\"\n",
            "channel[2].to: needs at least one recipient",
        ),
    ];
    for (name, extra, want) in cases {
        let text = if extra.starts_with("[poll]") {
            format!("{extra}{GOOD}")
        } else {
            format!("{GOOD}{extra}")
        };
        let got = problems(&text);
        assert_eq!(got.len(), 1, "{name}: {got:?}");
        assert!(got[0].contains(want), "{name}: {got:?} lacks {want:?}");
    }
}

#[test]
fn name_keywords_are_read_and_strict_ones_warned() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("a_long_name", "{ term = \"ماكاري\", name = true }", None),
        (
            "a_name_spelled_like_a_common_word",
            "{ term = \"بينيت\", name = true }",
            Some(
                "name \"بينيت\" is matched only as written, with no suffix: one of its spellings is the common word \"بنيت\"",
            ),
        ),
        (
            "a_short_name",
            "{ term = \"أوباما\", name = true }",
            Some("its consonants without vowels (\"بم\") are too few"),
        ),
    ];
    for (case, keyword, want) in cases {
        let text = GOOD.replace("any = [\"داعش\", ", &format!("any = [{keyword}, "));
        let config = Config::parse(&text, Path::new("rasad.toml")).expect("valid");
        assert!(config.topics[0].any[0].options.name, "{case}");
        let warnings = config.warnings();
        let named: Vec<&String> = warnings.iter().filter(|w| w.contains("name ")).collect();
        match want {
            None => assert!(named.is_empty(), "{case}: {named:?}"),
            Some(want) => assert!(
                named.len() == 1 && named[0].contains(want),
                "{case}: {named:?} lacks {want:?}"
            ),
        }
    }
    let got = problems(&GOOD.replace("any = [\"داعش\", ", "any = [{ term = \"x\", name = 1 }, "));
    assert!(
        got.len() == 1 && got[0].contains(".name: has the wrong type"),
        "{got:?}"
    );
}

#[test]
fn unknown_keys_are_errors() {
    let got = problems(&format!("{GOOD}\n[poll]\nintervall = \"5m\"\n"));
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("intervall"), "{got:?}");
}

#[test]
fn parses_sizes() {
    for (text, want) in [
        ("10MiB", Some(10 << 20)),
        ("512 KiB", Some(512 << 10)),
        ("1000", Some(1000)),
        ("2MB", Some(2_000_000)),
        ("ten", None),
        ("5 parsecs", None),
    ] {
        assert_eq!(parse_size(text), want, "{text}");
    }
}

#[test]
fn reads_the_state_location_instance_and_lease() {
    let dir = tempfile::tempdir().expect("a folder");
    let password = dir.path().join("db-password");
    std::fs::write(&password, "s3cret\n").expect("written");
    let with = |daemon: &str| GOOD.replace("[daemon]\nstate = \"state/rasad.db\"\n", daemon);
    let parse = |text: &str| Config::parse(text, Path::new("/etc/rasad/rasad.toml"));
    let shared = format!(
        "[daemon]\nstate = \"postgres://rasad@db.example:5432/rasad\"\nstate_password_file = {:?}\n",
        password.display().to_string()
    );
    let cases: &[(&str, &str, StateLocation, &str)] = &[
        (
            "a_relative_path_is_beside_the_config",
            "[daemon]\nstate = \"state/rasad.db\"\n",
            StateLocation::File(PathBuf::from("/etc/rasad/state/rasad.db")),
            "/etc/rasad/state/rasad.db",
        ),
        (
            "postgres_url_selects_shared_state",
            &shared,
            StateLocation::Postgres("postgres://rasad:s3cret@db.example:5432/rasad".into()),
            "postgres://rasad:***@db.example:5432/rasad",
        ),
        (
            "postgresql_scheme_too",
            "[daemon]\nstate = \"postgresql://db.example/rasad?sslmode=require\"\n",
            StateLocation::Postgres("postgresql://db.example/rasad?sslmode=require".into()),
            "postgresql://db.example/rasad?sslmode=require",
        ),
    ];
    for (name, daemon, want, shown) in cases {
        let config = parse(&with(daemon)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&config.daemon.state, want, "{name}");
        assert_eq!(
            config.daemon.state.to_string(),
            *shown,
            "{name}: password hidden"
        );
        assert!(!config.summary().contains("s3cret"), "{name}");
        assert!(!format!("{config:?}").contains("s3cret"), "{name}");
    }
    let inline = problems(&with(
        "[daemon]\nstate = \"postgres://rasad:s3cret@db.example/rasad\"\n",
    ));
    assert_eq!(inline.len(), 1, "{inline:?}");
    assert!(inline[0].contains("daemon.state: secrets never sit in the config file"));
    let misplaced = problems(&with(
        "[daemon]\nstate = \"r.db\"\nstate_password_env = \"HOME\"\n",
    ));
    assert_eq!(misplaced.len(), 1, "{misplaced:?}");
    assert!(misplaced[0].contains("only used with a postgres:// state"));
    let named = parse(&with(
        "[daemon]\nstate = \"postgres://db/r\"\ninstance = \"web-1\"\nlease = \"5s\"\n",
    ))
    .expect("valid");
    assert_eq!(named.daemon.instance, "web-1");
    assert_eq!(named.daemon.lease, Duration::from_secs(5));
    let wrong = problems(&with("[daemon]\nlease = \"200ms\"\ninstance = \"\"\n"));
    assert_eq!(wrong.len(), 2, "{wrong:?}");
    assert!(
        wrong[0].contains("daemon.instance: must be 1 to 128 characters"),
        "{wrong:?}"
    );
    assert!(
        wrong[1].contains("daemon.lease: 200ms is too short"),
        "{wrong:?}"
    );
}

#[test]
fn reads_a_webhook_url_from_an_environment_variable_or_a_file() {
    let dir = tempfile::tempdir().expect("a folder");
    let hook = dir.path().join("hook-url");
    std::fs::write(&hook, "https://hooks.slack.test/services/T0/B0/xyz\n").expect("written");
    let ftp = dir.path().join("ftp-url");
    std::fs::write(&ftp, "ftp://files.test/drop\n").expect("written");
    let channel = |keys: &str| {
        format!(
            "{GOOD}[[channel]]\nid = \"hook\"\nkind = \"webhook\"\nformat = \"slack\"\n{keys}\n"
        )
    };
    let from_file = Config::parse(
        &channel(&format!("url_file = {:?}", hook.display().to_string())),
        Path::new("/etc/rasad/rasad.toml"),
    )
    .expect("valid");
    let ChannelKind::Webhook(webhook) = &from_file.channels[1].kind else {
        panic!("a webhook channel");
    };
    assert_eq!(
        webhook.url.as_str(),
        "https://hooks.slack.test/services/T0/B0/xyz"
    );
    let path_value = std::env::var("PATH").unwrap_or_default();
    let cases = [
        (
            "file_holding_another_scheme",
            format!("url_file = {:?}", ftp.display().to_string()),
            "channel[2].url_file: the URL it holds must be http or https, not ftp",
        ),
        (
            "variable_holding_no_url",
            "url_env = \"PATH\"".to_owned(),
            "channel[2].url_env: what it holds is not a URL",
        ),
        (
            "unset_variable",
            "url_env = \"RASAD_TEST_SURELY_UNSET\"".to_owned(),
            "channel[2].url_env: environment variable RASAD_TEST_SURELY_UNSET is not set",
        ),
        (
            "url_and_url_file",
            format!(
                "url = \"https://h.example/\"\nurl_file = {:?}",
                hook.display().to_string()
            ),
            "channel[2].url: give url, url_env or url_file, not several",
        ),
    ];
    for (name, keys, want) in cases {
        let got = problems(&channel(&keys));
        assert_eq!(got.len(), 1, "{name}: {got:?}");
        assert!(got[0].contains(want), "{name}: {got:?} lacks {want:?}");
        assert!(
            path_value.is_empty() || !got[0].contains(&path_value),
            "{name}: the value is quoted"
        );
    }
}

#[test]
fn reads_the_admin_listen_address() {
    let with = |listen: &str| GOOD.replace("[daemon]\n", &format!("[daemon]\nlisten = {listen}\n"));
    let parse = |text: &str| Config::parse(text, Path::new("/etc/rasad/rasad.toml"));
    let cases: &[(&str, String, Option<&str>)] = &[
        (
            "left_out_is_the_default",
            GOOD.to_owned(),
            Some("127.0.0.1:9797"),
        ),
        ("empty_turns_it_off", with("\"\""), None),
        (
            "any_address_and_port",
            with("\"0.0.0.0:8080\""),
            Some("0.0.0.0:8080"),
        ),
    ];
    for (name, text, want) in cases {
        let config = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            config.daemon.listen.map(|a| a.to_string()).as_deref(),
            *want,
            "{name}"
        );
    }
    let wrong = problems(&with("\"localhost\""));
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(
        wrong[0].contains("daemon.listen: \"localhost\" is not an address"),
        "{wrong:?}"
    );
}
