//! `rasad import-opml` and `rasad export-opml` as a user runs them: the exports of four feed
//! readers (tests/data/opml, written as those readers write them) become tables that
//! `rasad check` accepts in a config, and a config's export reads back to the same feeds.

use std::path::Path;
use std::process::Output;

use crate::support::PROCESS_LIMIT;

/// Runs `rasad ARGS` to completion, bounded by [`PROCESS_LIMIT`].
async fn rasad(args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_rasad"));
    command.args(args).kill_on_drop(true);
    tokio::time::timeout(PROCESS_LIMIT, command.output())
        .await
        .expect("rasad finished within the limit")
        .expect("rasad started")
}

/// The rest of a config: the feeds imported are pasted after it.
const CONFIG_HEAD: &str = r#"
[daemon]
state = "state/rasad.db"
listen = ""

[poll]
interval = "5m"

[[topic]]
id = "isis"
any = ["داعش"]
notify = ["out"]

[[channel]]
id = "out"
kind = "stdout"
"#;

fn fixture(name: &str) -> String {
    format!("{}/tests/data/opml/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn imported_feeds_of_four_readers_pass_rasad_check_in_a_config() {
    let dir = tempfile::tempdir().expect("a folder");
    for (reader, feeds) in [
        ("feedly.opml", 4),
        ("inoreader.opml", 5),
        ("miniflux.opml", 4),
        ("netnewswire.opml", 4),
    ] {
        let imported = rasad(&["import-opml", &fixture(reader)]).await;
        assert!(
            imported.status.success(),
            "{reader}: {}",
            text(&imported.stderr)
        );
        let tables = text(&imported.stdout);
        assert_eq!(
            tables.matches("[[feed]]").count(),
            feeds,
            "{reader}:\n{tables}"
        );
        let config = dir.path().join(format!("{reader}.toml"));
        std::fs::write(&config, format!("{CONFIG_HEAD}\n{tables}")).expect("config written");
        let check = rasad(&["check", "-c", &config.display().to_string()]).await;
        assert!(
            check.status.success(),
            "{reader}: rasad check refused the imported feeds: {}\n{tables}",
            text(&check.stderr)
        );
        assert!(
            text(&check.stdout).contains(&format!("{feeds} feed")),
            "{reader}: {}",
            text(&check.stdout)
        );
    }
}

#[tokio::test]
async fn import_notes_the_duplicate_and_refuses_what_is_not_opml() {
    let duplicate = rasad(&["import-opml", &fixture("feedly.opml")]).await;
    let notes = text(&duplicate.stderr);
    assert!(
        notes.contains("line 15: outline \"BBC News عربي\": the same URL as line 9"),
        "{notes}"
    );
    let dir = tempfile::tempdir().expect("a folder");
    let cases = [
        ("not_xml.opml", "name,url\n", 2, "not OPML"),
        (
            "no_body.opml",
            "<opml version=\"2.0\"><head/></opml>",
            2,
            "has no <body>",
        ),
        (
            "broken.opml",
            "<opml>\n<body>\n</head>\n</opml>",
            2,
            "line 3: not well-formed XML",
        ),
        (
            "only_folders.opml",
            "<opml><body><outline text=\"empty\"></outline></body></opml>",
            1,
            "no feed",
        ),
    ];
    for (name, content, code, says) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("file written");
        let output = rasad(&["import-opml", &path.display().to_string()]).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{name}: {stderr}");
        assert!(
            stderr.contains(says) && stderr.contains(name),
            "{name}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{name}: nothing printed");
    }
    let missing = rasad(&["import-opml", "/nonexistent/subscriptions.opml"]).await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("cannot open /nonexistent/subscriptions.opml"));
}

#[tokio::test]
async fn an_exported_config_imports_to_the_same_feeds_without_the_channels_secrets() {
    let dir = tempfile::tempdir().expect("a folder");
    let original = dir.path().join("rasad.toml");
    std::fs::write(
        &original,
        format!(
            "{CONFIG_HEAD}
[[feed]]
id = \"bbc-arabic\"
name = \"BBC \\\"عربي\\\" & <Co>\"
url = \"https://feeds.bbci.co.uk/arabic/rss.xml?a=1&b=2\"
interval = \"10m\"

[[feed]]
id = \"jazeera\"
name = \"الجزيرة\"
url = \"https://www.aljazeera.net/aljazeerarss/a7c186be-1baa/73d0e1b4\"

[[feed]]
id = \"no-name\"
url = \"https://x.test/feed\"

# Its secret is not set where the list is exported: the feeds need none.
[[channel]]
id = \"ops\"
kind = \"webhook\"
url = \"https://hooks.test/rasad\"
secret_env = \"RASAD_TEST_OPML_UNSET_SECRET\"
"
        ),
    )
    .expect("config written");
    let exported = rasad(&["export-opml", "-c", &original.display().to_string()]).await;
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let opml = text(&exported.stdout);
    assert!(opml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\""));
    assert!(
        opml.contains("<dateCreated>") && opml.contains("type=\"rss\""),
        "{opml}"
    );
    assert!(
        opml.contains("text=\"BBC &quot;عربي&quot; &amp; &lt;Co&gt;\""),
        "{opml}"
    );
    let opml_path = dir.path().join("export.opml");
    std::fs::write(&opml_path, &opml).expect("export written");
    let imported = rasad(&["import-opml", &opml_path.display().to_string()]).await;
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    assert!(imported.stderr.is_empty(), "{}", text(&imported.stderr));
    let again = dir.path().join("again.toml");
    std::fs::write(&again, format!("{CONFIG_HEAD}\n{}", text(&imported.stdout)))
        .expect("config written");
    let feeds = |path: &Path| {
        let (feeds, _) = rasad::config::Config::load_feeds(path).unwrap_or_else(|e| panic!("{e}"));
        feeds
            .into_iter()
            .map(|f| (f.id, f.name, f.url.to_string(), f.interval))
            .collect::<Vec<_>>()
    };
    assert_eq!(feeds(&again), feeds(&original));
    assert_eq!(feeds(&original).len(), 3);
}
