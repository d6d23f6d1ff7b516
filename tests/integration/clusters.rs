//! One story, one alert: the same story in several feeds (other links, a prefix, a changed word)
//! alerts once per topic and channel and names the other outlets; different events with the
//! same template stay apart, as do a live page and the report it covers; edits alert only for a new topic; a new process does not re-alert.

use std::io::Write;
use std::time::Duration;

use crate::support::{Env, RSS, count, counts, eventually};

const WAIT: Duration = Duration::from_secs(10);

/// One RSS item: guid, link, title, description, publication time (RFC 2822).
type Item<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

fn feed(items: &[Item]) -> String {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>أخبار</title><link>https://outlet.test/</link>\n",
    );
    for (guid, link, title, description, published) in items {
        body.push_str(&format!(
            "<item><guid>{guid}</guid><link>{link}</link><title>{title}</title>\
             <description>{description}</description><pubDate>{published}</pubDate></item>\n"
        ));
    }
    body.push_str("</channel></rss>\n");
    body
}

const AMBUSH_A: Item = (
    "https://a.test/news/1700073",
    "https://a.test/news/1700073?utm_source=rss&amp;utm_medium=feed",
    "عاجل: مقتل 14 جنديا سوريا بهجوم لداعش على حافلة عسكرية في البادية",
    "قتل 14 جنديا سوريا الاثنين في هجوم شنه تنظيم داعش على حافلة عسكرية في البادية قرب مدينة السخنة في ريف حمص الشرقي، وفق المرصد السوري لحقوق الإنسان.",
    "Sun, 29 Nov 2026 08:00:00 GMT",
);
const AMBUSH_B: Item = (
    "b-4412",
    "http://WWW.B.test/ar/4412/?fbclid=IwAR0x#top",
    "مقتل 14 عسكريا سوريا بهجوم لداعش على حافلة عسكرية في البادية",
    "قُتل 14 عسكريا سوريا، الاثنين، في هجوم شنّه تنظيم «داعش» على حافلة عسكرية في البادية قرب السخنة بريف حمص الشرقي، بحسب المرصد السوري لحقوق الإنسان. (أ ف ب)",
    "Sun, 29 Nov 2026 08:20:00 GMT",
);
/// The third copy also names تدمر, which the `palmyra` topic watches.
const AMBUSH_C: Item = (
    "https://c.test/?p=9",
    "https://amp.c.test/syria/9/amp?ocid=x",
    "داعش يقتل 14 جنديا سوريا بهجوم على حافلة عسكرية قرب السخنة",
    "قتل 14 جنديا سوريا في هجوم شنه تنظيم داعش على حافلة عسكرية على طريق السخنة تدمر في ريف حمص الشرقي، وفق المرصد السوري لحقوق الإنسان.",
    "Sun, 29 Nov 2026 08:45:00 GMT",
);
/// The same template as a different event: another place, another lead, later in the day.
const KIRKUK: Item = (
    "https://a.test/news/1700190",
    "https://a.test/news/1700190",
    "مقتل جنديين عراقيين بهجوم لداعش في كركوك",
    "قتل جنديان عراقيان وأصيب ثالث في هجوم شنه مسلحون يعتقد أنهم من تنظيم داعش على نقطة عسكرية في ناحية الرشاد جنوب غربي كركوك.",
    "Sun, 29 Nov 2026 09:00:00 GMT",
);
const DIYALA: Item = (
    "b-4460",
    "https://b.test/ar/4460",
    "مقتل جنديين عراقيين بهجوم لداعش في ديالى",
    "قتل جنديان عراقيان بانفجار عبوة ناسفة استهدفت دورية للجيش على طريق بعقوبة المقدادية في محافظة ديالى شرقي البلاد، وتبنى داعش الهجوم لاحقا.",
    "Sun, 29 Nov 2026 17:00:00 GMT",
);
const QUIET: Item = (
    "q",
    "https://q.test/q",
    "افتتاح معرض الكتاب",
    "في الرياض",
    "Sun, 29 Nov 2026 07:00:00 GMT",
);

/// Three known feeds (`news`, `wire2`, `wire3`) and a second topic, `palmyra`, that only the
/// webhook channel receives.
async fn three_known_feeds() -> Env {
    let mut env = Env::start().await;
    env.extra_feeds = vec!["wire2".into(), "wire3".into()];
    env.write_config();
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(env.config_path())
        .expect("config opened");
    writeln!(
        config,
        "\n[[topic]]\nid = \"palmyra\"\nname = \"تدمر\"\nany = [\"تدمر\"]\nnotify = [\"ops\"]"
    )
    .expect("config written");
    for path in ["/news.xml", "/wire2.xml", "/wire3.xml"] {
        env.feeds.set(path, feed(&[QUIET]), RSS);
    }
    let first = env.once().await;
    assert_eq!(count(&first, "alerts"), 0, "{first}");
    env
}

#[tokio::test]
async fn one_story_in_three_feeds_alerts_once_and_names_the_other_outlets() {
    let env = three_known_feeds().await;

    // Two outlets carry the story: one alert, to each channel once.
    env.feeds.set("/news.xml", feed(&[QUIET, AMBUSH_A]), RSS);
    env.feeds.set("/wire2.xml", feed(&[QUIET, AMBUSH_B]), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "new_stories"), 2, "{summary}");
    assert_eq!(count(&summary, "alerts"), 1, "{summary}");
    assert_eq!(count(&summary, "delivered"), 2, "{summary}");

    // The third outlet: no second isis alert, but the palmyra topic is new for the story, and
    // its alert names the outlets that carried the story before.
    env.feeds.set("/wire3.xml", feed(&[QUIET, AMBUSH_C]), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "new_stories"), 1, "{summary}");
    assert_eq!(count(&summary, "alerts"), 1, "{summary}");
    let calls = env.hook.wait_for_accepted(2, WAIT).await;
    assert_eq!(calls.len(), 2);
    let later = calls[1].json().expect("a JSON body");
    assert_eq!(later["topic"]["id"], "palmyra");
    let mut others: Vec<String> = later["also_reported_by"]
        .as_array()
        .expect("also_reported_by in the later alert")
        .iter()
        .map(|o| o.as_str().unwrap_or_default().to_owned())
        .collect();
    others.sort();
    assert_eq!(others, ["Outlet news", "Outlet wire2"]);
    let first = calls[0].json().expect("a JSON body");
    assert_eq!(first["topic"]["id"], "isis");
    assert_eq!(
        env.smtp.messages().len(),
        1,
        "one email for the one isis alert"
    );

    // A new process on the same state sends nothing again.
    let summary = env.once().await;
    assert_eq!(
        counts(&summary, ["new_stories", "alerts", "delivered"]),
        [0, 0, 0],
        "{summary}"
    );
    assert_eq!(env.hook.accepted().len(), 2);
    assert_eq!(env.smtp.messages().len(), 1);
}

/// A live page that covers the ambush, in the ambush report's words.
const LIVE_PAGE: Item = (
    "https://b.test/live/77",
    "https://b.test/live/77",
    "آخر تطورات هجوم داعش على حافلة عسكرية في البادية.. لحظة بلحظة",
    "قتل 14 جنديا سوريا الاثنين في هجوم شنه تنظيم داعش على حافلة عسكرية في البادية قرب مدينة السخنة في ريف حمص الشرقي، وفق المرصد السوري لحقوق الإنسان.",
    "Sun, 29 Nov 2026 08:10:00 GMT",
);

#[tokio::test]
async fn a_live_page_and_the_report_it_covers_alert_separately() {
    let env = three_known_feeds().await;
    env.feeds.set("/news.xml", feed(&[QUIET, AMBUSH_A]), RSS);
    env.feeds.set("/wire2.xml", feed(&[QUIET, LIVE_PAGE]), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "new_stories"), 2, "{summary}");
    assert_eq!(count(&summary, "alerts"), 2, "{summary}");
}

#[tokio::test]
async fn different_events_with_one_template_alert_separately() {
    let env = three_known_feeds().await;
    env.feeds.set("/news.xml", feed(&[QUIET, KIRKUK]), RSS);
    env.feeds.set("/wire2.xml", feed(&[QUIET, DIYALA]), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "new_stories"), 2, "{summary}");
    assert_eq!(count(&summary, "alerts"), 2, "{summary}");
    let calls = env.hook.wait_for_accepted(2, WAIT).await;
    for call in &calls {
        let body = call.json().expect("a JSON body");
        assert!(body.get("also_reported_by").is_none(), "{body}");
    }
}

#[tokio::test]
async fn an_edited_item_alerts_only_for_a_topic_it_did_not_match_before() {
    let env = three_known_feeds().await;
    env.feeds.set("/news.xml", feed(&[QUIET, AMBUSH_A]), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "alerts"), 1, "{summary}");

    // Same guid, new title (the flash becomes a headline): still only isis, so no alert.
    let (guid, link, _, text, at) = AMBUSH_A;
    let headline = (
        guid,
        link,
        "مقتل 14 جنديا سوريا بكمين لداعش قرب السخنة",
        text,
        at,
    );
    env.feeds.set("/news.xml", feed(&[QUIET, headline]), RSS);
    let summary = env.once().await;
    assert_eq!(
        counts(&summary, ["new_stories", "alerts"]),
        [0, 0],
        "{summary}"
    );

    // Edited again to name تدمر: the palmyra topic is new for it, so that one alert is sent.
    let named = (
        guid,
        link,
        "مقتل 14 جنديا سوريا بكمين لداعش على طريق تدمر",
        text,
        at,
    );
    env.feeds.set("/news.xml", feed(&[QUIET, named]), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "alerts"), 1, "{summary}");
    let calls = env.hook.wait_for_accepted(2, WAIT).await;
    let topics: Vec<String> = calls
        .iter()
        .map(|c| c.json().expect("a JSON body")["topic"]["id"].to_string())
        .collect();
    assert_eq!(topics, ["\"isis\"", "\"palmyra\""]);

    // The same edit polled again is a repeat.
    let summary = env.once().await;
    assert_eq!(count(&summary, "alerts"), 0, "{summary}");
}

#[tokio::test]
async fn the_daemon_forgets_stories_past_their_retention() {
    let env = Env::start().await;
    env.write_config();
    let config = std::fs::read_to_string(env.config_path()).expect("config read");
    let config = config.replacen(
        "state = \"state/rasad.db\"",
        "state = \"state/rasad.db\"\nretention = \"1s\"",
        1,
    );
    std::fs::write(env.config_path(), config).expect("config written");
    env.feeds.set("/news.xml", feed(&[QUIET]), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "new_stories"), 1, "{summary}");
    let summary = env.once().await;
    assert_eq!(
        count(&summary, "new_stories"),
        0,
        "known while kept: {summary}"
    );

    // The daemon prunes at start; the feed is empty meanwhile, so nothing is recorded again.
    env.feeds.set("/news.xml", feed(&[]), RSS);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut daemon = env.spawn(&["run"]);
    eventually(WAIT, || env.log().contains("old stories pruned")).await;
    daemon.start_kill().expect("rasad stopped");
    let _ = daemon.wait().await;
    assert!(env.log().contains("removed=1"), "{}", env.log());

    env.feeds.set("/news.xml", feed(&[QUIET]), RSS);
    let summary = env.once().await;
    assert_eq!(count(&summary, "new_stories"), 1, "forgotten: {summary}");
}

/// Pairwise precision and recall of `rasad cluster` on a labelled set of the shared samples.
fn pairwise_scores(set: &str) -> Option<(f64, f64)> {
    let path = format!("../shared/samples/dedup/{set}");
    if !std::path::Path::new(&path).exists() {
        crate::support::missing("shared dedup sets", &format!("{path} is not there"));
        return None;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rasad"))
        .args(["cluster", &path])
        .output()
        .expect("rasad cluster runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = |line: &str| serde_json::from_str::<serde_json::Value>(line).expect("a JSON line");
    let truth: Vec<(String, String)> = std::fs::read_to_string(&path)
        .expect("the set reads")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v = json(l);
            (v["id"].to_string(), v["cluster"].to_string())
        })
        .collect();
    let predicted: std::collections::HashMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v = json(l);
            (v["id"].to_string(), v["cluster"].to_string())
        })
        .collect();
    let (mut both, mut said, mut real) = (0.0, 0.0, 0.0);
    for (i, (a, ta)) in truth.iter().enumerate() {
        for (b, tb) in &truth[i + 1..] {
            let same = predicted.contains_key(a) && predicted.get(a) == predicted.get(b);
            said += f64::from(u8::from(same));
            real += f64::from(u8::from(ta == tb));
            both += f64::from(u8::from(same && ta == tb));
        }
    }
    Some((both / said, both / real))
}

#[test]
fn clustering_keeps_its_precision_and_recall_on_the_shared_sets() {
    // The threshold was chosen on dev2.jsonl and checked on dev.jsonl (README, "Stories and
    // duplicates"); these are the figures it reached, a little rounded down.
    for (set, min_precision, min_recall) in [("dev2.jsonl", 0.97, 0.85), ("dev.jsonl", 1.0, 0.91)] {
        let Some((precision, recall)) = pairwise_scores(set) else {
            continue;
        };
        assert!(
            precision >= min_precision && recall >= min_recall,
            "{set}: precision {precision:.3}, recall {recall:.3}"
        );
    }
}
