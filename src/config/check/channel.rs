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
        let format = self.webhook_format(at, ch);
        let secret = self.secret(at, "secret", &ch.secret, &ch.secret_env, &ch.secret_file);
        let telegram = self.telegram(at, ch, format);
        let url = self.webhook_url(at, ch, format);
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

    /// The webhook's `format`, JSON when none is given.
    fn webhook_format(&mut self, at: &str, ch: &RawChannel) -> WebhookFormat {
        match &ch.format {
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
        }
    }

    /// A telegram channel's bot token and chat id; the keys are refused for any other format.
    fn telegram(
        &mut self,
        at: &str,
        ch: &RawChannel,
        format: WebhookFormat,
    ) -> Option<(Secret, String)> {
        let token = self.secret(
            at,
            "bot_token",
            &ch.bot_token,
            &ch.bot_token_env,
            &ch.bot_token_file,
        );
        if format == WebhookFormat::Telegram {
            let named =
                ch.bot_token.is_some() || ch.bot_token_env.is_some() || ch.bot_token_file.is_some();
            if !named {
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
        }
    }

    /// The webhook's URL, from `url`, `url_env` or `url_file` (one of them), or the Telegram API.
    fn webhook_url(&mut self, at: &str, ch: &RawChannel, format: WebhookFormat) -> Option<Url> {
        let hidden = ch.url_env.is_some() || ch.url_file.is_some();
        match &ch.url {
            Some(url) if hidden => {
                self.problem(
                    format!("{at}.url"),
                    url.span(),
                    "give url, url_env or url_file, not several",
                );
                None
            }
            Some(url) => self.url(&format!("{at}.url"), url, &["http", "https"]),
            None if hidden => self.secret_url(at, ch),
            None if format == WebhookFormat::Telegram => {
                Some(Url::parse(TELEGRAM_API).expect("the Telegram API URL is valid"))
            }
            None => {
                self.problem(
                    format!("{at}.url"),
                    ch.id.span(),
                    "is required for a webhook channel (or url_env or url_file, which keep it out of the file)",
                );
                None
            }
        }
    }

    /// The webhook URL named by `url_env` or `url_file`. Its problems never quote it: the URL
    /// itself is the secret.
    fn secret_url(&mut self, at: &str, ch: &RawChannel) -> Option<Url> {
        let secret = self.secret(at, "url", &None, &ch.url_env, &ch.url_file)?;
        let (key, span) = match (&ch.url_env, &ch.url_file) {
            (Some(var), _) => ("url_env", var.span()),
            (None, Some(file)) => ("url_file", file.span()),
            (None, None) => return None,
        };
        match Url::parse(secret.expose().trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
            Ok(url) => {
                self.problem(
                    format!("{at}.{key}"),
                    span,
                    format!(
                        "the URL it holds must be http or https, not {}",
                        url.scheme()
                    ),
                );
                None
            }
            Err(e) => {
                self.problem(
                    format!("{at}.{key}"),
                    span,
                    format!("what it holds is not a URL: {e}"),
                );
                None
            }
        }
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
        let templates = TemplateOverrides {
            subject: self.template(at, ch, "subject_template", &ch.subject_template, &["email"]),
            text: self.template(
                at,
                ch,
                "text_template",
                &ch.text_template,
                &["email", "stdout"],
            ),
            html: self.template(at, ch, "html_template", &ch.html_template, &["email"]),
            body: self.template(at, ch, "body_template", &ch.body_template, &["webhook"]),
        };
        ChannelOptions {
            digest,
            max_per_hour,
            timezone,
            templates,
        }
    }

    /// A template file named by `key`: used by one of `kinds`, readable, and a template that
    /// minijinja accepts. Its text, or `None` with the problem reported.
    fn template(
        &mut self,
        at: &str,
        ch: &RawChannel,
        key: &str,
        value: &Option<Str>,
        kinds: &[&str],
    ) -> Option<String> {
        let kind = ch.kind.get_ref().as_str();
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[daemon]
state = "state/rasad.db"

[[topic]]
id = "isis"
any = ["داعش"]
notify = ["out"]
"#;

    fn check_channel(channel: &str) -> Result<Config, Vec<String>> {
        let text = format!("{BASE}\n[[channel]]\nid = \"out\"\n{channel}");
        Config::parse(&text, Path::new("/etc/rasad/rasad.toml")).map_err(|e| match e {
            ConfigError::Invalid { problems, .. } => {
                problems.iter().map(|p| p.to_string()).collect()
            }
            other => vec![other.to_string()],
        })
    }

    #[test]
    fn reports_delivery_key_mistakes_with_their_path() {
        let cases = [
            (
                "unknown_format",
                "kind = \"webhook\"\nurl = \"https://h.example/\"\nformat = \"irc\"\n",
                "channel[1].format: \"irc\" must be json, slack, discord, teams, telegram or mattermost",
            ),
            (
                "telegram_without_token",
                "kind = \"webhook\"\nformat = \"telegram\"\nchat_id = \"1\"\n",
                "channel[1].bot_token_env: a telegram channel needs its bot token",
            ),
            (
                "telegram_token_inline",
                "kind = \"webhook\"\nformat = \"telegram\"\nchat_id = \"1\"\nbot_token = \"123:abc\"\n",
                "channel[1].bot_token: secrets never sit in the config file",
            ),
            (
                "chat_id_without_telegram",
                "kind = \"webhook\"\nurl = \"https://h.example/\"\nchat_id = \"1\"\n",
                "channel[1].chat_id: is only used with format = \"telegram\"",
            ),
            (
                "bad_timezone",
                "kind = \"stdout\"\ntimezone = \"Mars/Olympus\"\n",
                "channel[1].timezone: \"Mars/Olympus\" is not an IANA time zone",
            ),
            (
                "zero_per_hour",
                "kind = \"stdout\"\nmax_per_hour = 0\n",
                "channel[1].max_per_hour: must be a positive number, not 0",
            ),
            (
                "bad_digest",
                "kind = \"stdout\"\ndigest = \"soon\"\n",
                "channel[1].digest: \"soon\" is not a duration",
            ),
            (
                "body_template_on_email_kind",
                "kind = \"stdout\"\nbody_template = \"/nonexistent\"\n",
                "channel[1].body_template: is not used by a stdout channel",
            ),
            (
                "missing_template_file",
                "kind = \"stdout\"\ntext_template = \"/nonexistent/rasad.txt\"\n",
                "channel[1].text_template: cannot read /nonexistent/rasad.txt",
            ),
        ];
        for (name, channel, want) in cases {
            let got = check_channel(channel).err().unwrap_or_default();
            assert_eq!(got.len(), 1, "{name}: {got:?}");
            assert!(got[0].contains(want), "{name}: {got:?} lacks {want:?}");
        }
    }

    #[test]
    fn reads_delivery_keys() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let template = dir.path().join("text.txt");
        std::fs::write(&template, "{{ alert.title }}").expect("written");
        let broken = dir.path().join("broken.txt");
        std::fs::write(&broken, "{% if %}").expect("written");
        let config = check_channel(&format!(
            "kind = \"stdout\"\ntimezone = \"Asia/Riyadh\"\ndigest = \"15m\"\nmax_per_hour = 20\ntext_template = \"{}\"\n",
            template.display()
        ))
        .expect("valid");
        let options = &config.channels[0].options;
        assert_eq!(options.timezone, chrono_tz::Asia::Riyadh);
        assert_eq!(options.digest, Some(Duration::from_secs(900)));
        assert_eq!(options.max_per_hour, Some(20));
        assert_eq!(options.templates.text.as_deref(), Some("{{ alert.title }}"));
        assert_eq!(config.delivery.max_age, Duration::from_secs(48 * 3600));

        let problems = check_channel(&format!(
            "kind = \"stdout\"\ntext_template = \"{}\"\n",
            broken.display()
        ))
        .err()
        .unwrap_or_default();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("text_template"), "{problems:?}");

        let telegram = check_channel(
            "kind = \"webhook\"\nformat = \"telegram\"\nchat_id = \"-100\"\nbot_token_file = \"/proc/self/cmdline\"\n",
        )
        .expect("valid");
        match &telegram.channels[0].kind {
            ChannelKind::Webhook(w) => {
                assert_eq!(w.format, WebhookFormat::Telegram);
                assert_eq!(w.url.as_str(), "https://api.telegram.org/");
                assert_eq!(
                    w.telegram.as_ref().map(|(_, chat)| chat.as_str()),
                    Some("-100")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
