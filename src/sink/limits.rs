//! What each chat platform accepts in one message, checked on the rendered body before it is
//! sent: a digest that does not fit is split into several messages (see `WebhookSink::split`),
//! and a single alert that does not fit (a custom template) is refused with the reason instead of
//! going dead at the platform. Pure.
//!
//! Lengths are counted as the platforms count them, in characters (UTF-16 code units: the same as
//! characters for Arabic and every other BMP script, and never fewer), never in bytes, except for
//! Teams, whose limit is on the payload's size.

use serde_json::Value;

use crate::config::WebhookFormat;

/// Slack Block Kit (<https://api.slack.com/reference/block-kit/blocks>): 50 blocks a message,
/// 3,000 characters in a section's text, 150 in a header; `text` is cut by Slack at 40,000.
pub const SLACK_BLOCKS: usize = 50;
pub const SLACK_SECTION_CHARS: usize = 3000;
pub const SLACK_HEADER_CHARS: usize = 150;
pub const SLACK_TEXT_CHARS: usize = 40_000;
/// Discord embeds (<https://discord.com/developers/docs/resources/message#embed-object-embed-limits>):
/// 10 embeds, 6,000 characters across all of them, title 256, description 4,096, footer 2,048,
/// author 256; `content` 2,000.
pub const DISCORD_EMBEDS: usize = 10;
pub const DISCORD_EMBED_TOTAL_CHARS: usize = 6000;
pub const DISCORD_TITLE_CHARS: usize = 256;
pub const DISCORD_DESCRIPTION_CHARS: usize = 4096;
pub const DISCORD_FOOTER_CHARS: usize = 2048;
pub const DISCORD_AUTHOR_CHARS: usize = 256;
pub const DISCORD_CONTENT_CHARS: usize = 2000;
/// Telegram `sendMessage` (<https://core.telegram.org/bots/api#sendmessage>): 1 to 4,096
/// characters after entity parsing; counted here before it (tags and all), which never
/// undercounts.
pub const TELEGRAM_TEXT_CHARS: usize = 4096;
/// Teams webhooks (Workflows and the older connectors): 28 KB per message
/// (<https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using>).
pub const TEAMS_BYTES: usize = 28 * 1024;
/// Mattermost posts: 16,383 characters (`PostMessageMaxRunesV2` in the server's `model/post.go`).
pub const MATTERMOST_TEXT_CHARS: usize = 16_383;

/// Whether `body` (the rendered JSON of one message) fits `format`'s platform; the error names
/// the first limit it breaks.
pub fn check(format: WebhookFormat, body: &Value) -> Result<(), String> {
    match format {
        WebhookFormat::Json => Ok(()),
        WebhookFormat::Slack => slack(body),
        WebhookFormat::Discord => discord(body),
        WebhookFormat::Telegram => {
            at_most("Telegram text", text(body, "/text"), TELEGRAM_TEXT_CHARS).map(drop)
        }
        WebhookFormat::Teams => {
            let size = body.to_string().len();
            if size > TEAMS_BYTES {
                Err(format!(
                    "the Teams message is {size} bytes, over the limit of {TEAMS_BYTES}"
                ))
            } else {
                Ok(())
            }
        }
        WebhookFormat::Mattermost => at_most(
            "Mattermost text",
            text(body, "/text"),
            MATTERMOST_TEXT_CHARS,
        )
        .map(drop),
    }
}

fn slack(body: &Value) -> Result<(), String> {
    at_most("Slack text", text(body, "/text"), SLACK_TEXT_CHARS)?;
    let blocks = body["blocks"].as_array().map_or(&[][..], Vec::as_slice);
    if blocks.len() > SLACK_BLOCKS {
        return Err(format!(
            "{} Slack blocks, over the limit of {SLACK_BLOCKS}",
            blocks.len()
        ));
    }
    for block in blocks {
        match block["type"].as_str() {
            Some("section") => {
                at_most(
                    "a Slack section",
                    text(block, "/text/text"),
                    SLACK_SECTION_CHARS,
                )?;
            }
            Some("header") => {
                at_most(
                    "a Slack header",
                    text(block, "/text/text"),
                    SLACK_HEADER_CHARS,
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn discord(body: &Value) -> Result<(), String> {
    at_most(
        "Discord content",
        text(body, "/content"),
        DISCORD_CONTENT_CHARS,
    )?;
    let embeds = body["embeds"].as_array().map_or(&[][..], Vec::as_slice);
    if embeds.len() > DISCORD_EMBEDS {
        return Err(format!(
            "{} Discord embeds, over the limit of {DISCORD_EMBEDS}",
            embeds.len()
        ));
    }
    let mut total = 0;
    for embed in embeds {
        let title = at_most(
            "a Discord embed title",
            text(embed, "/title"),
            DISCORD_TITLE_CHARS,
        )?;
        let description = at_most(
            "a Discord embed description",
            text(embed, "/description"),
            DISCORD_DESCRIPTION_CHARS,
        )?;
        let footer = at_most(
            "a Discord embed footer",
            text(embed, "/footer/text"),
            DISCORD_FOOTER_CHARS,
        )?;
        let author = at_most(
            "a Discord embed author",
            text(embed, "/author/name"),
            DISCORD_AUTHOR_CHARS,
        )?;
        total += title + description + footer + author;
    }
    at_most(
        "the Discord embeds together",
        total,
        DISCORD_EMBED_TOTAL_CHARS,
    )?;
    Ok(())
}

/// The length, as the platforms count it, of the string at `pointer` (0 when absent).
fn text(value: &Value, pointer: &str) -> usize {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map_or(0, |s| s.encode_utf16().count())
}

fn at_most(what: &str, length: usize, limit: usize) -> Result<usize, String> {
    if length > limit {
        Err(format!(
            "{what} is {length} characters, over the limit of {limit}"
        ))
    } else {
        Ok(length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `n` characters of Arabic (two bytes each in UTF-8: bytes would count double).
    fn ar(n: usize) -> String {
        "ب".repeat(n)
    }

    fn embeds(descriptions: &[usize]) -> Value {
        json!({"content": "x", "embeds": descriptions.iter().map(|n| json!({
            "title": "t", "description": ar(*n), "footer": {"text": "f"}, "author": {"name": "a"}
        })).collect::<Vec<_>>()})
    }

    /// A table of named cases, one row per case: it is as long as its table, and reads top to bottom.
    #[test]
    fn each_platform_takes_its_limit_and_refuses_one_more() {
        let slack_section = |n: usize| {
            json!({"text": "x", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": ar(n)}}]})
        };
        let slack_blocks = |n: usize| {
            json!({"text": "x", "blocks":
            (0..n).map(|_| json!({"type": "divider"})).collect::<Vec<_>>()})
        };
        let slack_header = |n: usize| {
            json!({"text": "x", "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": ar(n)}}]})
        };
        let cases: Vec<(&str, WebhookFormat, Value, bool)> = vec![
            (
                "slack_section_at_3000",
                WebhookFormat::Slack,
                slack_section(3000),
                true,
            ),
            (
                "slack_section_over_3000",
                WebhookFormat::Slack,
                slack_section(3001),
                false,
            ),
            (
                "slack_50_blocks",
                WebhookFormat::Slack,
                slack_blocks(50),
                true,
            ),
            (
                "slack_51_blocks",
                WebhookFormat::Slack,
                slack_blocks(51),
                false,
            ),
            (
                "slack_header_at_150",
                WebhookFormat::Slack,
                slack_header(150),
                true,
            ),
            (
                "slack_header_over_150",
                WebhookFormat::Slack,
                slack_header(151),
                false,
            ),
            (
                "slack_text_over_40000",
                WebhookFormat::Slack,
                json!({"text": ar(40_001)}),
                false,
            ),
            (
                "discord_6000_across_embeds",
                WebhookFormat::Discord,
                embeds(&[2997, 2997]),
                true,
            ),
            (
                "discord_6001_across_embeds",
                WebhookFormat::Discord,
                embeds(&[2997, 2998]),
                false,
            ),
            (
                "discord_description_at_4096",
                WebhookFormat::Discord,
                embeds(&[4096]),
                true,
            ),
            (
                "discord_description_over_4096",
                WebhookFormat::Discord,
                embeds(&[4097]),
                false,
            ),
            (
                "discord_10_embeds",
                WebhookFormat::Discord,
                embeds(&[1; 10]),
                true,
            ),
            (
                "discord_11_embeds",
                WebhookFormat::Discord,
                embeds(&[1; 11]),
                false,
            ),
            (
                "discord_content_over_2000",
                WebhookFormat::Discord,
                json!({"content": ar(2001)}),
                false,
            ),
            (
                "discord_title_over_256",
                WebhookFormat::Discord,
                json!({"embeds": [{"title": ar(257)}]}),
                false,
            ),
            (
                "telegram_at_4096",
                WebhookFormat::Telegram,
                json!({"text": ar(4096)}),
                true,
            ),
            (
                "telegram_over_4096",
                WebhookFormat::Telegram,
                json!({"text": ar(4097)}),
                false,
            ),
            (
                "telegram_counts_utf16_units_for_emoji",
                WebhookFormat::Telegram,
                json!({"text": "😀".repeat(2049)}),
                false,
            ),
            (
                "mattermost_at_16383",
                WebhookFormat::Mattermost,
                json!({"text": ar(16_383)}),
                true,
            ),
            (
                "mattermost_over_16383",
                WebhookFormat::Mattermost,
                json!({"text": ar(16_384)}),
                false,
            ),
            (
                "teams_under_28_kb",
                WebhookFormat::Teams,
                json!({"t": "x".repeat(TEAMS_BYTES - 20)}),
                true,
            ),
            (
                "teams_over_28_kb",
                WebhookFormat::Teams,
                json!({"t": "x".repeat(TEAMS_BYTES)}),
                false,
            ),
            (
                "json_has_no_limit",
                WebhookFormat::Json,
                json!({"t": ar(100_000)}),
                true,
            ),
        ];
        for (name, format, body, fits) in cases {
            let got = check(format, &body);
            assert_eq!(got.is_ok(), fits, "{name}: {got:?}");
        }
    }
}
