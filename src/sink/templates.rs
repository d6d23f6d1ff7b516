//! The minijinja templates of one channel: the embedded defaults (under `templates/`), replaced
//! by the channel's own files where it names them, rendered from a [`MessageView`].
//!
//! `.html` templates are auto-escaped; JSON bodies are built as values and written with
//! `|tojson`, so that no feed string can break out of its JSON string. Filters added to
//! Jinja's: `clip(n)` (at most n characters, with …), `mrkdwn` (Slack escaping), `md`
//! (Markdown escaping, mentions broken), `mdurl` (a URL safe inside a Markdown link), `xml`
//! (`& < > "` escaped, for Telegram's HTML), and `isolate(rtl)` / `bdi(rtl)` (left-to-right runs
//! isolated in a right-to-left alert, with Unicode isolates or `<bdi dir="ltr">`).

use minijinja::{AutoEscape, Environment};

use super::render::{MessageView, header_line, truncate_chars};
use crate::config::{TemplateOverrides, WebhookFormat};

const SUBJECT: &str = include_str!("templates/subject.txt");
const TEXT: &str = include_str!("templates/text.txt");
const HTML: &str = include_str!("templates/email.html");

/// The default body template of a webhook format.
fn default_body(format: WebhookFormat) -> &'static str {
    match format {
        WebhookFormat::Json => include_str!("templates/json.json"),
        WebhookFormat::Slack => include_str!("templates/slack.json"),
        WebhookFormat::Discord => include_str!("templates/discord.json"),
        WebhookFormat::Teams => include_str!("templates/teams.json"),
        WebhookFormat::Telegram => include_str!("templates/telegram.json"),
        WebhookFormat::Mattermost => include_str!("templates/mattermost.json"),
    }
}

/// The longest subject line, in characters.
const SUBJECT_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {name}: {source}")]
    Render {
        name: &'static str,
        source: minijinja::Error,
    },
    #[error("template {name} did not produce valid JSON: {source}")]
    Json {
        name: &'static str,
        source: serde_json::Error,
    },
}

/// The compiled templates of one channel.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Templates {
    /// The defaults (with the body of `format`), replaced by `overrides` where given.
    pub fn new(
        format: WebhookFormat,
        overrides: &TemplateOverrides,
    ) -> Result<Templates, minijinja::Error> {
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()?,
        );
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.add_filter("clip", |text: String, max: usize| {
            truncate_chars(&text, max)
        });
        env.add_filter("mrkdwn", |text: String| {
            text.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        });
        env.add_filter("md", escape_markdown);
        // Left-to-right runs (times, Latin names, URLs) isolated in a right-to-left alert.
        env.add_filter("isolate", |text: String, rtl: bool| {
            if rtl {
                super::bidi::isolate_text(&text)
            } else {
                text
            }
        });
        env.add_filter("bdi", |text: String, rtl: bool| {
            if rtl {
                minijinja::Value::from_safe_string(super::bidi::isolate_html(&text))
            } else {
                minijinja::Value::from(text)
            }
        });
        env.add_filter("xml", |text: String| {
            html_escape::encode_double_quoted_attribute(&text).into_owned()
        });
        env.add_filter("mdurl", |url: String| {
            url.replace('(', "%28")
                .replace(')', "%29")
                .replace(' ', "%20")
        });
        let pick = |own: &Option<String>, default: &'static str| {
            own.clone().unwrap_or_else(|| default.to_owned())
        };
        env.add_template_owned("subject.txt", pick(&overrides.subject, SUBJECT))?;
        env.add_template_owned("text.txt", pick(&overrides.text, TEXT))?;
        env.add_template_owned("email.html", pick(&overrides.html, HTML))?;
        env.add_template_owned("body.json", pick(&overrides.body, default_body(format)))?;
        Ok(Templates { env })
    }

    /// The mail subject: one line, whatever the template produced.
    pub fn subject(&self, view: &MessageView) -> Result<String, TemplateError> {
        let raw = self.render("subject.txt", view, ())?;
        Ok(header_line(&raw, SUBJECT_CHARS))
    }

    /// The plain-text part (and the stdout block).
    pub fn text(&self, view: &MessageView) -> Result<String, TemplateError> {
        self.render("text.txt", view, ())
    }

    /// The HTML part.
    pub fn html(&self, view: &MessageView) -> Result<String, TemplateError> {
        let subject = self.subject(view)?;
        self.render("email.html", view, subject)
    }

    /// The webhook body, checked to be JSON and written compactly.
    pub fn body(&self, view: &MessageView) -> Result<String, TemplateError> {
        Ok(self.body_value(view)?.to_string())
    }

    /// The webhook body as a JSON value (to measure it against the platform's limits).
    pub fn body_value(&self, view: &MessageView) -> Result<serde_json::Value, TemplateError> {
        let raw = self.render("body.json", view, ())?;
        serde_json::from_str(&raw).map_err(|source| TemplateError::Json {
            name: "body",
            source,
        })
    }

    fn render(
        &self,
        name: &'static str,
        view: &MessageView,
        subject: impl serde::Serialize,
    ) -> Result<String, TemplateError> {
        let error = |source| TemplateError::Render { name, source };
        let template = self.env.get_template(name).map_err(error)?;
        let mut context = serde_json::to_value(view).expect("a message view serialises");
        context["subject"] = serde_json::to_value(subject).expect("a string serialises");
        template
            .render(minijinja::value::Serde(&context))
            .map_err(error)
    }
}

/// Markdown's special characters escaped with a backslash, so that a feed's text stays text,
/// and mentions broken: a zero-width space after each `@` keeps `@all`, `@channel`, `@here` (and
/// `@someone`) in a title from notifying a whole Mattermost or Teams channel.
fn escape_markdown(text: String) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_[]<>|~".contains(c) {
            out.push('\\');
        }
        out.push(c);
        if c == '@' {
            out.push('\u{200B}');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::render::message_view;
    use crate::sink::sample::{sample_delivery, sample_latin_delivery};

    fn hostile() -> crate::model::Delivery {
        let mut d = sample_delivery();
        d.payload.story.title =
            "هجوم لداعش <script>alert(1)</script>\r\nBcc: x@y \"q\" *b* @everyone".into();
        d.payload.feed_name = "<b>Outlet</b>".into();
        d.payload.hits[0].field = crate::model::Field::Title;
        let at = d.payload.story.title.find("لداعش").expect("present");
        d.payload.hits[0].token_span = at..at + "لداعش".len();
        d
    }

    #[test]
    fn left_to_right_runs_are_isolated_in_arabic_alerts_only() {
        let mut arabic = sample_delivery();
        arabic.payload.story.title = "بيان لداعش ISIS عند 11:00".into();
        let latin = sample_latin_delivery();
        let view = |d: &crate::model::Delivery| message_view(&[d], chrono_tz::Tz::UTC, Some("-1"));
        let email =
            Templates::new(WebhookFormat::Json, &TemplateOverrides::default()).expect("builds");
        let text = email.text(&view(&arabic)).expect("renders");
        assert!(text.contains("\u{2066}ISIS\u{2069}"), "{text}");
        assert!(text.contains("\u{2066}11:00\u{2069}"), "{text}");
        assert!(
            text.contains("\u{2066}2026-11-29 08:00 UTC\u{2069}"),
            "{text}"
        );
        let html = email.html(&view(&arabic)).expect("renders");
        assert!(html.contains("<bdi dir=\"ltr\">ISIS</bdi>"), "{html}");
        for format in WebhookFormat::ALL {
            let templates = Templates::new(format, &TemplateOverrides::default()).expect("builds");
            let isolated = templates.body(&view(&arabic)).expect("renders");
            let plain = templates.body(&view(&latin)).expect("renders");
            let chat = format != WebhookFormat::Json;
            assert_eq!(
                isolated.contains('\u{2066}'),
                chat,
                "{format:?}: {isolated}"
            );
            assert!(!plain.contains('\u{2066}'), "{format:?}: {plain}");
        }
        let latin_text = email.text(&view(&latin)).expect("renders");
        assert!(!latin_text.contains('\u{2066}'), "{latin_text}");
    }

    #[test]
    fn mentions_from_a_feed_never_reach_a_chat_live() {
        let mut delivery = sample_delivery();
        delivery.payload.story.title =
            "لداعش @all @channel @here <!channel> <!here> <!everyone> <@U024BE7LH>".into();
        let view = message_view(&[&delivery], chrono_tz::Tz::UTC, Some("-100123"));
        let cases: &[(&str, WebhookFormat, &[&str])] = &[
            (
                "slack_special_mentions_and_users",
                WebhookFormat::Slack,
                &["<!channel>", "<!here>", "<!everyone>", "<@U024BE7LH>"],
            ),
            (
                "mattermost_channel_wide_mentions",
                WebhookFormat::Mattermost,
                &["@all", "@channel", "@here"],
            ),
            (
                "teams_channel_wide_mentions",
                WebhookFormat::Teams,
                &["@all", "@channel", "@here"],
            ),
        ];
        for (name, format, live) in cases {
            let templates = Templates::new(*format, &TemplateOverrides::default()).expect("builds");
            let body = templates.body_value(&view).expect("renders");
            let strings = all_strings(&body);
            for mention in *live {
                assert!(
                    !strings.iter().any(|s| s.contains(mention)),
                    "{name}: {mention} is live in {strings:?}"
                );
            }
            assert!(
                strings.iter().any(|s| s.contains("لداعش")),
                "{name}: the title is kept"
            );
        }
        // Discord parses no mention at all: allowed_mentions is off.
        let discord = Templates::new(WebhookFormat::Discord, &TemplateOverrides::default())
            .expect("builds")
            .body_value(&view)
            .expect("renders");
        assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));
    }

    /// Every string inside `value`, as the platform reads it.
    fn all_strings(value: &serde_json::Value) -> Vec<String> {
        match value {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(items) => items.iter().flat_map(all_strings).collect(),
            serde_json::Value::Object(map) => map.values().flat_map(all_strings).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn every_format_renders_valid_json_that_keeps_the_title() {
        let delivery = hostile();
        let view = message_view(&[&delivery], chrono_tz::Tz::UTC, Some("-100123"));
        for format in WebhookFormat::ALL {
            let templates = Templates::new(format, &TemplateOverrides::default())
                .unwrap_or_else(|e| panic!("{format:?}: {e}"));
            let body = templates
                .body(&view)
                .unwrap_or_else(|e| panic!("{format:?}: {e}"));
            let value: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            let text = value.to_string();
            assert!(text.contains("لداعش"), "{format:?}: {text}");
            // Where markup is read (Slack mrkdwn, Telegram HTML, Markdown), it is escaped.
            let markup = matches!(
                format,
                WebhookFormat::Slack | WebhookFormat::Telegram | WebhookFormat::Mattermost
            );
            assert!(!(markup && body.contains("<script>")), "{format:?}: {body}");
        }
    }

    #[test]
    fn html_is_rtl_highlighted_and_escaped() {
        let delivery = hostile();
        let view = message_view(&[&delivery], chrono_tz::Tz::UTC, None);
        let html = Templates::new(WebhookFormat::Json, &TemplateOverrides::default())
            .expect("defaults compile")
            .html(&view)
            .expect("renders");
        let cases = [
            ("direction_is_rtl", "dir=\"rtl\"", true),
            (
                "hit_is_marked",
                "<mark style=\"background:#ffe066;color:#000000\">لداعش</mark>",
                true,
            ),
            ("script_is_escaped", "&lt;script&gt;", true),
            ("no_raw_script", "<script>", false),
            ("outlet_is_escaped", "&lt;b&gt;Outlet&lt;&#x2f;b&gt;", true),
            ("link_is_kept", "href=\"https:&#x2f;&#x2f;", true),
        ];
        for (name, needle, present) in cases {
            assert_eq!(html.contains(needle), present, "{name}: {html}");
        }
    }

    #[test]
    fn latin_story_is_ltr() {
        let delivery = sample_latin_delivery();
        let view = message_view(&[&delivery], chrono_tz::Tz::UTC, None);
        let html = Templates::new(WebhookFormat::Json, &TemplateOverrides::default())
            .expect("defaults compile")
            .html(&view)
            .expect("renders");
        assert!(html.contains("dir=\"ltr\""), "{html}");
        assert!(!html.contains("dir=\"rtl\""), "{html}");
    }

    #[test]
    fn subject_has_no_line_breaks_even_from_a_template() {
        let delivery = hostile();
        let view = message_view(&[&delivery], chrono_tz::Tz::UTC, None);
        let overrides = TemplateOverrides {
            subject: Some("{{ alert.title }}\r\nX-Injected: yes".into()),
            ..Default::default()
        };
        let subject = Templates::new(WebhookFormat::Json, &overrides)
            .expect("compiles")
            .subject(&view)
            .expect("renders");
        assert!(!subject.contains(['\r', '\n']), "{subject:?}");
        assert!(subject.ends_with("X-Injected: yes"), "{subject:?}");
    }

    #[test]
    fn a_body_template_that_is_not_json_is_an_error() {
        let delivery = sample_delivery();
        let view = message_view(&[&delivery], chrono_tz::Tz::UTC, None);
        let overrides = TemplateOverrides {
            body: Some("title: {{ alert.title }}".into()),
            ..Default::default()
        };
        let templates = Templates::new(WebhookFormat::Json, &overrides).expect("compiles");
        assert!(matches!(
            templates.body(&view),
            Err(TemplateError::Json { .. })
        ));
    }

    #[test]
    fn markdown_is_escaped() {
        let cases = [
            ("plain", "داعش", "داعش"),
            ("link", "[x](y)", "\\[x\\](y)"),
            (
                "dates_stay_readable",
                "2026-11-29 +03:00",
                "2026-11-29 +03:00",
            ),
            ("emphasis", "*a* _b_", "\\*a\\* \\_b\\_"),
        ];
        for (name, input, want) in cases {
            assert_eq!(escape_markdown(input.into()), want, "{name}");
        }
    }

    /// Compares `actual` with the committed snapshot `tests/data/snapshots/NAME`; with
    /// `RASAD_UPDATE_SNAPSHOTS=1` it writes the snapshot instead.
    fn snapshot(name: &str, actual: &str) -> Option<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/snapshots")
            .join(name);
        if std::env::var_os("RASAD_UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder created");
            std::fs::write(&path, actual).expect("snapshot written");
            return None;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        (expected != actual).then(|| {
            format!(
                "{name} differs from {} (RASAD_UPDATE_SNAPSHOTS=1 rewrites it):\n{actual}",
                path.display()
            )
        })
    }

    #[test]
    fn every_format_and_both_email_parts_match_their_snapshots() {
        let arabic = sample_delivery();
        let latin = sample_latin_delivery();
        let stories = [
            ("ar", &arabic, chrono_tz::Asia::Riyadh),
            ("en", &latin, chrono_tz::Europe::London),
        ];
        let mut mismatches = Vec::new();
        for (lang, delivery, tz) in stories {
            let view = message_view(&[delivery], tz, Some("-1001234567890"));
            for format in WebhookFormat::ALL {
                let templates = Templates::new(format, &TemplateOverrides::default())
                    .expect("defaults compile");
                let body = templates.body(&view).expect("renders");
                let value: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
                let pretty = serde_json::to_string_pretty(&value).expect("serialises") + "\n";
                mismatches.extend(snapshot(
                    &format!("webhook-{}-{lang}.json", format.as_str()),
                    &pretty,
                ));
            }
            let templates = Templates::new(WebhookFormat::Json, &TemplateOverrides::default())
                .expect("defaults compile");
            let text = format!(
                "Subject: {}\n\n{}",
                templates.subject(&view).expect("subject"),
                templates.text(&view).expect("text")
            );
            mismatches.extend(snapshot(&format!("email-{lang}.txt"), &text));
            let html = templates.html(&view).expect("html");
            mismatches.extend(snapshot(&format!("email-{lang}.html"), &html));
        }
        // A digest: two Arabic alerts on two topics and a Latin one.
        let mut second = sample_delivery();
        second.payload.topic_id = "coalition".into();
        second.payload.topic_name = "التحالف".into();
        second.idempotency_key = "0193c0de-0000-7000-8000-000000000003".into();
        let view = message_view(&[&arabic, &second, &latin], chrono_tz::Asia::Riyadh, None);
        let templates = Templates::new(WebhookFormat::Slack, &TemplateOverrides::default())
            .expect("defaults compile");
        let text = format!(
            "Subject: {}\n\n{}",
            templates.subject(&view).expect("subject"),
            templates.text(&view).expect("text")
        );
        mismatches.extend(snapshot("email-digest.txt", &text));
        mismatches.extend(snapshot(
            "email-digest.html",
            &templates.html(&view).expect("html"),
        ));
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
    }
}
