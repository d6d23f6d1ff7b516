//! The shared Arabic matching cases (`../shared/samples/arabic-match/dev.jsonl`), each run
//! through the config parser and the matcher exactly as `rasad match` runs them.

use std::path::Path;

use rasad::config::Config;
use rasad::matcher::Matcher;
use rasad::model::Field;
use rasad::wiring::topic_specs;

const CASES: &str = "../shared/samples/arabic-match/dev.jsonl";

/// A config with one topic whose only keyword is the case's (a string or an option table).
fn config_for(keyword: &serde_json::Value) -> Config {
    let keyword: toml::Value =
        serde_json::from_value(keyword.clone()).expect("a keyword is a string or a table");
    let mut topic = toml::Table::new();
    topic.insert("id".into(), "t".into());
    topic.insert("any".into(), toml::Value::Array(vec![keyword]));
    let mut file = toml::Table::new();
    file.insert(
        "topic".into(),
        toml::Value::Array(vec![toml::Value::Table(topic)]),
    );
    let text = toml::to_string(&file).expect("serialises");
    Config::parse(&text, Path::new("case.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn every_shared_arabic_matching_case_passes() {
    // The shared folder sits beside every checkout that develops or tests rasad; a source
    // tarball alone does not have it (under CI it must be there).
    if !Path::new(CASES).exists() {
        return crate::support::missing(
            "shared Arabic matching cases",
            &format!("{CASES} is not there"),
        );
    }
    let cases = std::fs::read_to_string(CASES).unwrap_or_else(|e| panic!("{CASES}: {e}"));
    let mut failures = Vec::new();
    let mut count = 0;
    for line in cases.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).expect("a JSON case");
        let matcher = Matcher::new(topic_specs(&config_for(&case["keyword"]))).expect("compiles");
        let text = case["text"].as_str().expect("a text");
        let hits = matcher.find_relevant(&[(Field::Title, text)]);
        let expect = case["expect"].as_bool().expect("an expectation");
        if hits.is_empty() == expect {
            failures.push(format!(
                "{}: expected {}, got {:?} ({})",
                case["id"],
                if expect { "a hit" } else { "no hit" },
                hits,
                case["why"]
            ));
        }
        count += 1;
    }
    assert!(count >= 200, "only {count} cases read");
    assert!(
        failures.is_empty(),
        "{} of {count} cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

const NAME_VARIANTS: &str = "tests/data/name-variants.tsv";

#[test]
fn name_keywords_find_press_spellings_and_no_look_alike_word() {
    let table =
        std::fs::read_to_string(NAME_VARIANTS).unwrap_or_else(|e| panic!("{NAME_VARIANTS}: {e}"));
    let mut failures = Vec::new();
    for row in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let [expect, name, text, what] = row.split('\t').collect::<Vec<_>>()[..] else {
            panic!("{NAME_VARIANTS}: a row has four columns: {row:?}");
        };
        let keyword = serde_json::json!({ "term": name, "name": true });
        let matcher = Matcher::new(topic_specs(&config_for(&keyword))).expect("compiles");
        let hits = matcher.find_relevant(&[(Field::Title, text)]);
        let strict = rasad::matcher::strictness(name).is_some();
        if hits.is_empty() == (expect == "hit") || strict != (expect == "strict") {
            failures.push(format!("{expect} {name} in {text:?} ({what})"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `rasad match --name`: the exit code says whether the name was found, and `--json` marks a
/// name hit.
#[test]
fn rasad_match_name_exits_0_on_another_spelling_and_1_on_none() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let cases: &[(&str, &str, i32, &str)] = &[
        (
            "another_spelling",
            "قال المبعوث مكاري إن",
            0,
            "\"matched\":\"مكاري\"",
        ),
        ("a_look_alike_word", "انسداد مجاري الصرف", 1, ""),
    ];
    for (case, text, code, want) in cases {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rasad"))
            .args(["match", "--name", "ماكاري", "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("rasad starts");
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(text.as_bytes()).expect("written");
        drop(stdin);
        let out = child.wait_with_output().expect("rasad exits");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(*code), "{case}: {stdout}");
        assert!(stdout.contains(want), "{case}: {stdout}");
        if *code == 0 {
            assert!(stdout.contains("\"name\":true"), "{case}: {stdout}");
        }
    }
}
