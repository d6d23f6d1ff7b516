//! `rasad match`: matches the text on standard input against the config's topics or given keywords.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use rasad::config::Config;
use rasad::matcher::Matcher;
use rasad::model::Field;
use rasad::source::display::terminal_safe;
use rasad::wiring::topic_specs;

use crate::{Failure, input};

pub(crate) fn match_stdin(
    config: PathBuf,
    keywords: Vec<String>,
    names: Vec<String>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let matcher = if keywords.is_empty() && names.is_empty() {
        Matcher::new(topic_specs(&Config::load(&config).map_err(input)?))
    } else {
        Matcher::from_keywords(super::command_line_keywords(keywords, names))
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
