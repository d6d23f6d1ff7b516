//! Managed topics: topics kept in the state (created on the analyst's desk) rather than in the
//! config file. A rule is the JSON of one `[[topic]]` table; it is turned into a one-topic TOML
//! document and checked by the config's own checks against the running config's channels, so
//! that a bad rule is refused with the very messages `rasad check` gives (paths read `topic.any`
//! rather than `topic[1].any`, and carry no line: the rule has none).

use super::raw::RawConfig;
use super::{Config, Problem, Topic};

/// The most managed topics the state holds: each adds its keywords to the one automaton every
/// story is matched with, and the desk's users are not its operators. A config holds more if
/// its operator wants.
pub const MAX_MANAGED_TOPICS: usize = 200;
/// The most keywords of one managed topic, its `any`, `all` and `none` and their aliases
/// together: a watch list of fifty words is a long one, and with [`MAX_MANAGED_TOPICS`] and
/// [`MAX_KEYWORD_CHARS`] it bounds what the desk adds to the automaton at 10,000 keywords
/// (rebuilt in 8.6 s by a debug build at these bounds, 2 cores; 60 s at five times them).
pub const MAX_MANAGED_KEYWORDS: usize = 50;
/// The longest keyword of a managed topic, in characters: a name or a phrase, not a text.
pub const MAX_KEYWORD_CHARS: usize = 64;
/// The longest id of a managed topic, in characters: it is a metric label and a log field.
pub const MAX_TOPIC_ID_CHARS: usize = 64;
/// The longest name of a managed topic, in characters: it heads every alert of the topic, in
/// an email's subject and a chat message's first line.
pub const MAX_TOPIC_NAME_CHARS: usize = 200;
/// How much of a keyword a refusal quotes.
const QUOTED_CHARS: usize = 20;
/// The most problems a refusal lists, and the longest line of one: a rule of thousands of bad
/// keywords is refused in an answer of a few KiB, not one larger than the rule.
pub const MAX_PROBLEMS_LISTED: usize = 20;
/// See [`MAX_PROBLEMS_LISTED`].
pub const MAX_PROBLEM_CHARS: usize = 300;

/// Checks a managed topic's `rule` against `config`: the keys and values of a `[[topic]]`
/// table, channels that `config` declares, and an id that no config topic has (a config topic
/// is changed in the config file only). Returns the built topic, or every problem as a line.
pub fn check_managed_topic(
    rule: &serde_json::Value,
    config: &Config,
) -> Result<Topic, Vec<String>> {
    check_rule(rule, config).map_err(bounded)
}

/// At most [`MAX_PROBLEMS_LISTED`] problems, each cut at [`MAX_PROBLEM_CHARS`], and a last
/// line saying how many more there were.
fn bounded(mut problems: Vec<String>) -> Vec<String> {
    let more = problems.len().saturating_sub(MAX_PROBLEMS_LISTED);
    problems.truncate(MAX_PROBLEMS_LISTED);
    for problem in &mut problems {
        if let Some((cut, _)) = problem.char_indices().nth(MAX_PROBLEM_CHARS) {
            problem.truncate(cut);
            problem.push('…');
        }
    }
    if more > 0 {
        problems.push(format!("topic: {more} more problems"));
    }
    problems
}

fn check_rule(rule: &serde_json::Value, config: &Config) -> Result<Topic, Vec<String>> {
    let text = topic_document(rule)?;
    let raw: RawConfig =
        toml::from_str(&text).map_err(|e| vec![format!("topic: {}", e.message().trim_end())])?;
    let topic = super::check::check_topic(&raw, &text, &config.channels)
        .map_err(|problems| problems.iter().map(plain).collect::<Vec<_>>())?;
    if config.topics.iter().any(|t| t.id == topic.id) {
        return Err(vec![format!(
            "topic id {:?} is defined in the config file; change it there",
            topic.id
        )]);
    }
    let problems = beyond_limits(&topic);
    if problems.is_empty() {
        Ok(topic)
    } else {
        Err(problems)
    }
}

/// What in `topic` goes past the bounds of a managed topic: its id's and name's length, a
/// channel notified twice, its number of keywords and each keyword's length.
fn beyond_limits(topic: &Topic) -> Vec<String> {
    let mut problems = Vec::new();
    if topic.id.chars().count() > MAX_TOPIC_ID_CHARS {
        problems.push(format!(
            "topic.id: {} characters; a managed topic's id has at most {MAX_TOPIC_ID_CHARS}",
            topic.id.chars().count()
        ));
    }
    if topic.name.chars().count() > MAX_TOPIC_NAME_CHARS {
        problems.push(format!(
            "topic.name: {} characters; a managed topic's name has at most {MAX_TOPIC_NAME_CHARS}",
            topic.name.chars().count()
        ));
    }
    let mut notified = std::collections::HashSet::new();
    if let Some(twice) = topic.notify.iter().find(|c| !notified.insert(c.as_str())) {
        problems.push(format!(
            "topic.notify: names channel {twice:?} more than once; a managed topic notifies each channel once"
        ));
    }
    let lists = [
        ("any", &topic.any),
        ("all", &topic.all),
        ("none", &topic.none),
    ];
    let keywords: usize = lists.iter().map(|(_, list)| list.len()).sum();
    if keywords > MAX_MANAGED_KEYWORDS {
        problems.push(format!(
            "topic: {keywords} keywords in any, all and none (aliases included); a managed topic has at most {MAX_MANAGED_KEYWORDS}"
        ));
    }
    for (key, list) in lists {
        for keyword in list.iter() {
            let chars = keyword.term.chars().count();
            if chars > MAX_KEYWORD_CHARS {
                let start: String = keyword.term.chars().take(QUOTED_CHARS).collect();
                problems.push(format!(
                    "topic.{key}: keyword \"{start}…\" has {chars} characters; a managed topic's keywords have at most {MAX_KEYWORD_CHARS}"
                ));
            }
        }
    }
    problems
}

/// The rule as a TOML document holding one `[[topic]]` table.
fn topic_document(rule: &serde_json::Value) -> Result<String, Vec<String>> {
    if !rule.is_object() {
        return Err(vec![
            "topic: must be a JSON object with the keys of a [[topic]] table (id, name, any, all, none, fields, notify)".to_owned(),
        ]);
    }
    let document = serde_json::json!({ "topic": [rule] });
    // JSON's null has no TOML form: the serializer names the key that holds one.
    toml::to_string(&document).map_err(|e| vec![format!("topic: {e}")])
}

/// A problem as one line, its path read for the one topic.
fn plain(problem: &Problem) -> String {
    let path = problem
        .path
        .strip_prefix("topic[1]")
        .map_or_else(|| problem.path.clone(), |rest| format!("topic{rest}"));
    format!("{path}: {}", problem.message)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;

    const CONFIG: &str = r#"
[[topic]]
id = "isis"
any = ["داعش"]

[[channel]]
id = "out"
kind = "stdout"
"#;

    fn config() -> Config {
        Config::parse(CONFIG, Path::new("/etc/rasad/rasad.toml")).expect("a valid config")
    }

    #[test]
    fn a_good_rule_builds_its_topic() {
        let rule = json!({
            "id": "ports",
            "name": "الموانئ",
            "any": ["مرفأ", {"term": "ميناء", "aliases": ["موانئ"], "suffixes": "pronouns-only"}],
            "none": ["مطار"],
            "fields": ["title"],
            "notify": ["out"],
        });
        let topic = check_managed_topic(&rule, &config()).expect("a good rule");
        assert_eq!(
            (topic.id.as_str(), topic.name.as_str()),
            ("ports", "الموانئ")
        );
        let terms: Vec<&str> = topic.any.iter().map(|k| k.term.as_str()).collect();
        assert_eq!(terms, ["مرفأ", "ميناء", "موانئ"]);
        assert_eq!(topic.none.len(), 1);
        assert_eq!(topic.fields, [crate::model::Field::Title]);
        assert_eq!(topic.notify, ["out"]);
    }

    #[test]
    fn bad_rules_are_refused_with_the_checks_messages() {
        let cases = [
            (
                "no_any",
                json!({"id": "ports", "notify": ["out"]}),
                vec!["topic.any: needs at least one keyword"],
            ),
            (
                "unknown_channel",
                json!({"id": "ports", "any": ["مرفأ"], "notify": ["pager"]}),
                vec!["topic.notify[1]: unknown channel \"pager\""],
            ),
            (
                "config_topic_id",
                json!({"id": "isis", "any": ["مرفأ"]}),
                vec!["topic id \"isis\" is defined in the config file; change it there"],
            ),
            (
                "bad_id",
                json!({"id": "a b", "any": ["مرفأ"]}),
                vec!["topic.id: \"a b\" must be non-empty ASCII letters, digits, '-', '_' or '.'"],
            ),
            (
                "not_an_object",
                json!(["مرفأ"]),
                vec![
                    "topic: must be a JSON object with the keys of a [[topic]] table (id, name, any, all, none, fields, notify)",
                ],
            ),
        ];
        for (name, rule, expected) in cases {
            assert_eq!(
                check_managed_topic(&rule, &config()).unwrap_err(),
                expected,
                "{name}"
            );
        }
    }

    /// One user of the desk must not make the automaton huge: a topic's keywords are bounded
    /// in number (aliases count) and in length, and its id in length.
    #[test]
    fn a_managed_topic_is_bounded_in_keywords_and_their_length() {
        let word = |n: usize| format!("كلمة{n}");
        let at_most: Vec<String> = (0..MAX_MANAGED_KEYWORDS).map(word).collect();
        let fits = json!({"id": "p", "any": at_most, "none": []});
        assert!(
            check_managed_topic(&fits, &config()).is_ok(),
            "at the bounds"
        );
        let long_enough = "ب".repeat(MAX_KEYWORD_CHARS);
        let fits = json!({"id": "x".repeat(MAX_TOPIC_ID_CHARS), "any": [long_enough]});
        assert!(
            check_managed_topic(&fits, &config()).is_ok(),
            "at the bounds"
        );
        let aliases: Vec<String> = (0..MAX_MANAGED_KEYWORDS).map(word).collect();
        let cases = [
            (
                "too_many_aliases",
                json!({"id": "p", "any": [{"term": "مرفأ", "aliases": aliases}]}),
                format!("topic: {} keywords", MAX_MANAGED_KEYWORDS + 1),
            ),
            (
                "too_many_across_lists",
                json!({"id": "p", "any": aliases[..30], "none": aliases[..21]}),
                format!("topic: {} keywords", MAX_MANAGED_KEYWORDS + 1),
            ),
            (
                "keyword_too_long",
                json!({"id": "p", "any": ["مرفأ"], "all": ["ب".repeat(MAX_KEYWORD_CHARS + 1)]}),
                format!(
                    "topic.all: keyword \"{}…\" has {} characters",
                    "ب".repeat(20),
                    MAX_KEYWORD_CHARS + 1
                ),
            ),
            (
                "name_too_long",
                json!({"id": "p", "name": "م".repeat(MAX_TOPIC_NAME_CHARS + 1), "any": ["مرفأ"]}),
                format!("topic.name: {} characters", MAX_TOPIC_NAME_CHARS + 1),
            ),
            (
                "a_channel_many_times",
                json!({"id": "p", "any": ["مرفأ"], "notify": vec!["out"; 5_000]}),
                "topic.notify: names channel \"out\" more than once".to_owned(),
            ),
            (
                "id_too_long",
                json!({"id": "x".repeat(MAX_TOPIC_ID_CHARS + 1), "any": ["مرفأ"]}),
                format!("topic.id: {} characters", MAX_TOPIC_ID_CHARS + 1),
            ),
        ];
        for (name, rule, want) in cases {
            let problems = check_managed_topic(&rule, &config()).expect_err(name);
            assert!(
                problems.iter().any(|p| p.starts_with(&want)),
                "{name}: {problems:?}"
            );
        }
    }

    /// A refusal stays small whatever the rule: thousands of keywords that fold to nothing,
    /// or one long one, used to come back as an answer larger than the rule.
    #[test]
    fn a_refusal_lists_a_bounded_number_of_short_problems() {
        let empty: Vec<&str> = vec!["!"; 5_000];
        let problems = check_managed_topic(&json!({"id": "p", "any": empty}), &config())
            .expect_err("empty keywords");
        assert_eq!(problems.len(), MAX_PROBLEMS_LISTED + 1, "{problems:?}");
        assert!(problems[0].contains("is empty once folded"), "{problems:?}");
        assert!(
            problems[MAX_PROBLEMS_LISTED].ends_with("more problems"),
            "{problems:?}"
        );
        let long = "!".repeat(60_000);
        let problems = check_managed_topic(&json!({"id": "p", "any": ["مرفأ", long]}), &config())
            .expect_err("an empty keyword");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].chars().count() <= MAX_PROBLEM_CHARS + 1,
            "{}",
            problems[0].len()
        );
    }

    /// Messages that name the key and what is wrong, whatever the parser's wording.
    #[test]
    fn bad_fields_and_keys_are_refused_naming_them() {
        let cases = [
            (
                "bad_field",
                json!({"id": "p", "any": ["مرفأ"], "fields": ["title", "body"]}),
                "body",
            ),
            (
                "unknown_key",
                json!({"id": "p", "any": ["مرفأ"], "colour": "red"}),
                "colour",
            ),
            ("no_id", json!({"any": ["مرفأ"]}), "id"),
            (
                "null_value",
                json!({"id": "p", "any": ["مرفأ"], "name": null}),
                "topic",
            ),
            ("wrong_type", json!({"id": "p", "any": "مرفأ"}), "topic"),
        ];
        for (name, rule, named) in cases {
            let problems = check_managed_topic(&rule, &config()).unwrap_err();
            assert_eq!(problems.len(), 1, "{name}: {problems:?}");
            assert!(
                problems[0].starts_with("topic") && problems[0].contains(named),
                "{name}: {problems:?}"
            );
        }
    }
}
