//! Checks of the channel keys that concern delivery: the webhook format and its credentials, and
//! the options every kind takes (digest, hourly limit, time zone, template files).

use super::*;

/// Where the Telegram Bot API lives when a telegram channel names no `url`.
const TELEGRAM_API: &str = "https://api.telegram.org";

impl Checker<'_> {
    pub(super) fn webhook(
        &mut self,
        at: &str,
        ch: &RawChannel,
        timeout: Duration,
    ) -> Option<WebhookChannel> {
        self.unused(at, ch, "webhook");
        let format = match &ch.format {
            None => WebhookFormat::Json,
            Some(value) => match WebhookFormat::ALL
                .into_iter()
                .find(|f| f.as_str() == value.get_ref())
            {
                Some(format) => format,
                None => {
                    let names: Vec<&str> = WebhookFormat::ALL.iter().map(|f| f.as_str()).collect();
                    self.problem(
                        format!("{at}.format"),
                        value.span(),
                        format!("{:?} must be {}", value.get_ref(), one_of(&names)),
                    );
                    WebhookFormat::Json
                }
            },
        };
        let secret = self.secret(at, "secret", &ch.secret, &ch.secret_env, &ch.secret_file);
        let token = self.secret(
            at,
            "bot_token",
            &ch.bot_token,
            &ch.bot_token_env,
            &ch.bot_token_file,
        );
        let telegram = if format == WebhookFormat::Telegram {
            if token.is_none() && ch.bot_token_env.is_none() && ch.bot_token_file.is_none() {
                self.problem(
                    format!("{at}.bot_token_env"),
                    ch.id.span(),
                    "a telegram channel needs its bot token in bot_token_env or bot_token_file",
                );
            }
            let chat = self.required(at, "chat_id", &ch.chat_id, ch);
            token.zip(chat)
        } else {
            for (key, value) in [
                ("bot_token_env", &ch.bot_token_env),
                ("bot_token_file", &ch.bot_token_file),
                ("chat_id", &ch.chat_id),
            ] {
                if let Some(value) = value {
                    self.problem(
                        format!("{at}.{key}"),
                        value.span(),
                        "is only used with format = \"telegram\"",
                    );
                }
            }
            None
        };
        let url = match &ch.url {
            Some(url) => self.url(&format!("{at}.url"), url, &["http", "https"]),
            None if format == WebhookFormat::Telegram => {
                Some(Url::parse(TELEGRAM_API).expect("the Telegram API URL is valid"))
            }
            None => {
                self.problem(
                    format!("{at}.url"),
                    ch.id.span(),
                    "is required for a webhook channel",
                );
                None
            }
        };
        if format == WebhookFormat::Telegram && telegram.is_none() {
            return None;
        }
        Some(WebhookChannel {
            url: url?,
            format,
            secret,
            telegram,
            timeout,
        })
    }

    /// The keys every channel kind takes.
    pub(super) fn channel_options(&mut self, at: &str, ch: &RawChannel) -> ChannelOptions {
        let digest = ch.digest.as_ref().map(|d| {
            self.duration(
                &format!("{at}.digest"),
                &Some(d.clone()),
                Duration::from_secs(900),
            )
        });
        let max_per_hour = ch.max_per_hour.as_ref().map(|n| {
            u32::try_from(*n.get_ref())
                .ok()
                .filter(|n| *n > 0)
                .unwrap_or_else(|| {
                    self.problem(
                        format!("{at}.max_per_hour"),
                        n.span(),
                        format!("must be a positive number, not {}", n.get_ref()),
                    );
                    1
                })
        });
        let timezone = match &ch.timezone {
            None => chrono_tz::Tz::UTC,
            Some(name) => name.get_ref().parse().unwrap_or_else(|_| {
                self.problem(
                    format!("{at}.timezone"),
                    name.span(),
                    format!(
                        "{:?} is not an IANA time zone like \"Asia/Riyadh\" or \"UTC\"",
                        name.get_ref()
                    ),
                );
                chrono_tz::Tz::UTC
            }),
        };
        let kind = ch.kind.get_ref().as_str();
        let mut template = |key: &str, value: &Option<Str>, kinds: &[&str]| {
            let value = value.as_ref()?;
            if !kinds.contains(&kind) {
                self.problem(
                    format!("{at}.{key}"),
                    value.span(),
                    format!("is not used by a {kind} channel"),
                );
                return None;
            }
            let path = expand_credentials(value.get_ref());
            let source = match std::fs::read_to_string(&path) {
                Ok(source) => source,
                Err(e) => {
                    self.problem(
                        format!("{at}.{key}"),
                        value.span(),
                        format!("cannot read {}: {e}", path.display()),
                    );
                    return None;
                }
            };
            match minijinja::Environment::new().template_from_str(&source) {
                Ok(_) => Some(source),
                Err(e) => {
                    self.problem(
                        format!("{at}.{key}"),
                        value.span(),
                        format!("{}: {e}", path.display()),
                    );
                    None
                }
            }
        };
        let templates = TemplateOverrides {
            subject: template("subject_template", &ch.subject_template, &["email"]),
            text: template("text_template", &ch.text_template, &["email", "stdout"]),
            html: template("html_template", &ch.html_template, &["email"]),
            body: template("body_template", &ch.body_template, &["webhook"]),
        };
        ChannelOptions {
            digest,
            max_per_hour,
            timezone,
            templates,
        }
    }
}
