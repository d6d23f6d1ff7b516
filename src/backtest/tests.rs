use super::*;
use crate::matcher::KeywordSpec;

fn rule(any: &[&str], all: &[&str], none: &[&str], fields: &[Field]) -> Rule {
    let specs = |words: &[&str]| words.iter().map(|w| KeywordSpec::plain(*w)).collect();
    Rule::new(TopicSpec {
        id: Some("t".to_owned()),
        any: specs(any),
        all: specs(all),
        none: specs(none),
        fields: fields.to_vec(),
    })
    .expect("the rule compiles")
}

fn stored(id: i64, cluster: i64, outlet: &str, title: &str, summary: Option<&str>) -> StoredStory {
    let at = DateTime::from_timestamp(1_800_000_000 + id * 60, 0).expect("a time");
    StoredStory {
        id,
        feed_id: format!("feed-{outlet}"),
        outlet: Some(outlet.to_owned()),
        title: title.to_owned(),
        summary: summary.map(str::to_owned),
        url: Some(format!("https://{outlet}.test/{id}")),
        published_at: None,
        first_seen_at: at,
        cluster_id: cluster,
    }
}

#[test]
fn stories_match_as_the_daemon_matches_them() {
    let all = Field::ALL;
    let cases = [
        (
            "clitic_in_the_title",
            rule(&["داعش"], &[], &[], &all),
            ("عناصر لِداعـــش انسحبوا", None),
            vec![("داعش", Field::Title, "لِداعـــش")],
        ),
        (
            "summary_searched",
            rule(&["التحالف الدولي"], &[], &[], &all),
            ("خبر", Some("أعلن التحالف الدولي أمس")),
            vec![("التحالف الدولي", Field::Summary, "التحالف الدولي")],
        ),
        (
            "none_vetoes",
            rule(&["داعش"], &[], &["تدريب"], &all),
            ("داعش", Some("تدريب عسكري")),
            vec![],
        ),
        (
            "all_required",
            rule(&["داعش"], &["سوريا"], &[], &all),
            ("داعش في العراق", None),
            vec![],
        ),
        (
            "all_present",
            rule(&["داعش"], &["سوريا"], &[], &all),
            ("داعش في سوريا", None),
            vec![
                ("داعش", Field::Title, "داعش"),
                ("سوريا", Field::Title, "سوريا"),
            ],
        ),
        (
            "title_only_topic_ignores_the_summary",
            rule(&["داعش"], &[], &[], &[Field::Title]),
            ("خبر", Some("داعش")),
            vec![],
        ),
        (
            "no_word_inside_another",
            rule(&["ISIS"], &[], &[], &all),
            ("CRISIS talks", None),
            vec![],
        ),
    ];
    for (name, rule, (title, summary), want) in cases {
        let page = vec![stored(1, 1, "a", title, summary)];
        let (story, hits) = match_page(&rule.matcher, page).remove(0);
        let hits = described_hits(&story, hits);
        let got: Vec<_> = hits
            .iter()
            .map(|h| (h.keyword.as_str(), h.field, h.matched.as_str()))
            .collect();
        assert_eq!(got, want, "{name}");
        for hit in &hits {
            assert_eq!(&hit.snippet[hit.highlight.clone()], hit.matched, "{name}");
        }
    }
}

#[test]
fn the_snippet_marks_the_word_among_its_neighbours() {
    let rule = rule(&["داعش"], &[], &[], &Field::ALL);
    let summary = "كلمة ".repeat(20) + "هجوم لداعش على قرية " + &"كلمة ".repeat(20);
    let page = vec![stored(1, 1, "a", "خبر", Some(&summary))];
    let (story, hits) = match_page(&rule.matcher, page).remove(0);
    let hits = described_hits(&story, hits);
    let hit = &hits[0];
    assert_eq!(&hit.snippet[hit.highlight.clone()], "لداعش");
    assert!(hit.snippet.len() < summary.len() && hit.snippet.contains("هجوم لداعش على قرية"));
}

/// Runs the tally over `stories` (newest first), each matching when its title holds داعش.
fn tally(stories: Vec<StoredStory>, limit: usize) -> BacktestReport {
    let rule = rule(&["داعش", "ISIS", "Daesh"], &[], &[], &Field::ALL);
    let mut tally = Tally::new(&rule, limit);
    tally.add(match_page(&rule.matcher, stories));
    tally.report(DateTime::from_timestamp(0, 0).expect("a time"))
}

#[test]
fn copies_of_one_story_make_one_alert_shown_by_the_first_copy() {
    // Newest first: cluster 1 has three copies, the oldest from outlet a.
    let report = tally(
        vec![
            stored(5, 1, "c", "داعش يتبنى الهجوم ISIS", None),
            stored(4, 4, "b", "خبر آخر عن داعش", None),
            stored(3, 1, "b", "داعش يتبنى الهجوم", None),
            stored(2, 2, "x", "خبر لا يعني الموضوع", Some("نص")),
            stored(1, 1, "a", "داعش يتبنى هجوم", None),
        ],
        10,
    );
    let alerts: Vec<_> = report
        .alerts
        .iter()
        .map(|a| (a.story_id, a.outlet.as_str(), a.also_reported_by.clone()))
        .collect();
    assert_eq!(
        alerts,
        [
            (4, "b", vec![]),
            (1, "a", vec!["b".to_owned(), "c".to_owned()]),
        ]
    );
    assert_eq!(
        (report.stories, report.matched, report.without_summary),
        (5, 4, 4)
    );
    let counts: Vec<_> = report
        .keywords
        .iter()
        .map(|k| (k.keyword.as_str(), k.stories))
        .collect();
    assert_eq!(counts, [("داعش", 4), ("ISIS", 1), ("Daesh", 0)]);
    assert!(!report.truncated);
}

#[test]
fn alerts_past_the_limit_are_counted_but_not_kept() {
    let stories = (1..=5)
        .rev()
        .map(|id| stored(id, id, "a", "داعش", None))
        .collect();
    let report = tally(stories, 2);
    let ids: Vec<_> = report.alerts.iter().map(|a| a.story_id).collect();
    assert_eq!(ids, [5, 4], "the newest");
    assert!(report.truncated);
    assert_eq!(report.matched, 5);
    assert_eq!(report.keywords[0].stories, 5);
}
