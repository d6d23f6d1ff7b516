//! `rasad backtest` after a real poll: `rasad once` reads the feed server and stores the
//! stories, then keywords the config never named are tried on them, on SQLite and on
//! PostgreSQL.

use crate::pg::TestDatabase;
use crate::support::{Env, RSS, rss};

/// The feed: two stories about Idlib (one names it only in its summary, after a clitic), one
/// about Beirut's port, one about the economy.
const ITEMS: [(&str, &str, &str); 4] = [
    (
        "b1",
        "قصف مدفعي على ريف إدلب الجنوبي",
        "قتل ثلاثة مدنيين في قصف استهدف قرى في ريف إدلب",
    ),
    (
        "b2",
        "انفجار في مرفأ بيروت",
        "هز انفجار مرفأ بيروت مساء الثلاثاء",
    ),
    (
        "b3",
        "ارتفاع أسعار الذهب",
        "سجلت أسعار الذهب ارتفاعا جديدا في الأسواق",
    ),
    (
        "b4",
        "نزوح آلاف العائلات نحو الشمال",
        "وصلت آلاف العائلات النازحة لإدلب خلال الأسبوع الماضي",
    ),
];

/// An environment whose state is `state` (a path or a URL), with [`ITEMS`] polled once.
async fn polled(state: Option<&str>) -> Env {
    let env = Env::start().await;
    env.write_config();
    if let Some(state) = state {
        let path = env.config_path();
        let text = std::fs::read_to_string(&path).expect("config read");
        let text = text.replace(
            "state = \"state/rasad.db\"",
            &format!("state = \"{state}\""),
        );
        std::fs::write(&path, text).expect("config written");
    }
    env.feeds.set("/news.xml", rss(&ITEMS), RSS);
    let summary = env.once().await;
    assert_eq!(summary["new_stories"], 4, "{summary}");
    env
}

async fn backtest_finds_unconfigured_keywords_in_stored_stories(backend: &str, env: &Env) {
    // إدلب is no keyword of the config: the stories were stored, not alerted.
    let output = env
        .rasad(&["backtest", "-k", "إدلب", "--since", "1d", "--json"])
        .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{backend}: {stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON report");
    assert_eq!(report["stories"], 4, "{backend}: {report}");
    assert_eq!(report["matched"], 2, "{backend}: {report}");
    let mut found: Vec<(String, String, String, String)> = report["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| {
            let hit = &a["hits"][0];
            (
                a["url"].as_str().unwrap_or_default().to_owned(),
                hit["field"].as_str().unwrap_or_default().to_owned(),
                hit["matched"].as_str().unwrap_or_default().to_owned(),
                a["outlet"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    found.sort();
    let want = [
        ("https://outlet.test/b1", "title", "إدلب", "Outlet news"),
        ("https://outlet.test/b4", "summary", "لإدلب", "Outlet news"),
    ]
    .map(|(u, f, m, o)| (u.to_owned(), f.to_owned(), m.to_owned(), o.to_owned()));
    assert_eq!(found, want, "{backend}: {report}");
    assert_eq!(
        report["keywords"],
        serde_json::json!([{"keyword": "إدلب", "stories": 2}]),
        "{backend}"
    );

    // As text: the story, its link and the word marked in its snippet.
    let text = env.rasad(&["backtest", "-k", "بيروت", "-k", "دمشق"]).await;
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.status.code(), Some(0), "{backend}: {stdout}");
    for line in [
        "Outlet news  انفجار في مرفأ بيروت",
        "    https://outlet.test/b2",
        "    بيروت (title): انفجار في مرفأ **بيروت**",
        "1 alert(s) from 1 matching of 4 stories since",
        "  بيروت  1 stories",
        "  دمشق   0 stories",
    ] {
        assert!(stdout.contains(line), "{backend}: {line:?} in\n{stdout}");
    }

    // Nothing found: exit 1; the config's own topic, which none of these stories matches.
    let none = env.rasad(&["backtest", "-k", "القدس"]).await;
    assert_eq!(none.status.code(), Some(1), "{backend}");
    let topic = env.rasad(&["backtest", "--topic", "isis"]).await;
    assert_eq!(topic.status.code(), Some(1), "{backend}");
    let unknown = env.rasad(&["backtest", "--topic", "nope"]).await;
    assert_eq!(unknown.status.code(), Some(2), "{backend}");
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no topic \"nope\"")
            && String::from_utf8_lossy(&unknown.stderr).contains("its topics: isis"),
        "{backend}: {}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let neither = env.rasad(&["backtest"]).await;
    assert_eq!(
        neither.status.code(),
        Some(2),
        "{backend}: a rule is required"
    );
}

#[tokio::test]
async fn backtest_finds_unconfigured_keywords_in_stories_a_poll_stored_on_sqlite() {
    let env = polled(None).await;
    backtest_finds_unconfigured_keywords_in_stored_stories("sqlite", &env).await;
}

#[tokio::test]
async fn backtest_finds_unconfigured_keywords_in_stories_a_poll_stored_on_postgres() {
    let Some(db) = TestDatabase::create("backtest_postgres").await else {
        return;
    };
    let env = polled(Some(&db.url)).await;
    backtest_finds_unconfigured_keywords_in_stored_stories("postgres", &env).await;
}

#[tokio::test]
async fn backtest_reads_every_page_and_keeps_the_newest_alerts_within_the_limit() {
    let env = Env::start().await;
    env.write_config();
    let items: Vec<(String, String, String)> = (0..620)
        .map(|i| {
            (
                format!("p{i}"),
                format!("خبر رقم {i} عن حلب"),
                format!("نص {i}"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t, d)| (g.as_str(), t.as_str(), d.as_str()))
        .collect();
    env.feeds.set("/news.xml", rss(&refs), RSS);
    env.once().await;
    let output = env
        .rasad(&["backtest", "-k", "حلب", "--limit", "3", "--json"])
        .await;
    assert_eq!(output.status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON report");
    assert_eq!(report["stories"], 620, "every page read");
    assert_eq!(report["matched"], 620);
    assert_eq!(report["keywords"][0]["stories"], 620);
    let alerts = report["alerts"].as_array().expect("alerts");
    assert!(!alerts.is_empty() && alerts.len() <= 3, "{report}");
    let too_many = env
        .rasad(&["backtest", "-k", "حلب", "--limit", "5000"])
        .await;
    assert_eq!(too_many.status.code(), Some(2), "the limit is bounded");
}

/// `--topic` finds a managed topic (kept in the state) when the config has none of that id, and
/// refuses one that no longer checks against the config, saying why.
#[tokio::test]
async fn backtest_tries_a_managed_topic_by_its_id() {
    let env = polled(None).await;
    let store = rasad::store::Store::open(env.dir.path().join("state/rasad.db"))
        .await
        .expect("the state opens");
    let now = chrono::Utc::now();
    let ports = serde_json::json!({"id": "ports", "any": ["بيروت"], "notify": ["ops"]});
    let gone = serde_json::json!({"id": "gone", "any": ["بيروت"], "notify": ["pager"]});
    for (id, rule) in [("ports", &ports), ("gone", &gone)] {
        store.save_managed_topic(id, rule, now).await.unwrap();
    }
    store.close().await;

    let found = env.rasad(&["backtest", "--topic", "ports"]).await;
    let stdout = String::from_utf8_lossy(&found.stdout);
    assert_eq!(found.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("بيروت (title): انفجار في مرفأ **بيروت**"),
        "{stdout}"
    );
    let refused = env.rasad(&["backtest", "--topic", "gone"]).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("managed topic \"gone\" does not check against")
            && stderr.contains("topic.notify[1]: unknown channel \"pager\""),
        "{stderr}"
    );
    let unknown = env.rasad(&["backtest", "--topic", "nope"]).await;
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert_eq!(unknown.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("its topics: isis, gone, ports"), "{stderr}");
}
