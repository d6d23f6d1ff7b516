//! Checks of the `[[channel]]` tables as a whole and of the email channel: ids, kinds, SMTP
//! settings, the secrets they name and the keys a kind does not use.

use super::*;

impl Checker<'_> {
    /// A channel that has problems of its own is still declared: do not report it twice.
    pub(super) fn channel_declared(&self, raw: &RawConfig, id: &str) -> bool {
        raw.channel.iter().any(|c| c.get_ref().id.get_ref() == id)
    }

    pub(super) fn channels(&mut self, raw: &RawConfig, default_timeout: Duration) -> Vec<Channel> {
        let mut seen = HashSet::new();
        let mut channels = Vec::new();
        for (i, spanned) in raw.channel.iter().enumerate() {
            let at = format!("channel[{}]", i + 1);
            let channel = spanned.get_ref();
            self.id(&format!("{at}.id"), &channel.id, &mut seen);
            let timeout =
                self.duration(&format!("{at}.timeout"), &channel.timeout, default_timeout);
            let kind = match channel.kind.get_ref().as_str() {
                "email" => self.email(&at, channel, timeout).map(ChannelKind::Email),
                "webhook" => self
                    .webhook(&at, channel, timeout)
                    .map(ChannelKind::Webhook),
                "stdout" => {
                    self.unused(&at, channel, "stdout");
                    Some(ChannelKind::Stdout)
                }
                other => {
                    self.problem(
                        format!("{at}.kind"),
                        channel.kind.span(),
                        format!("{other:?} must be email, webhook or stdout"),
                    );
                    None
                }
            };
            let options = self.channel_options(&at, channel);
            if let Some(kind) = kind {
                channels.push(Channel {
                    id: channel.id.get_ref().clone(),
                    kind,
                    options,
                });
            }
        }
        channels
    }

    pub(super) fn email(
        &mut self,
        at: &str,
        ch: &RawChannel,
        timeout: Duration,
    ) -> Option<EmailChannel> {
        self.unused(at, ch, "email");
        let host = self.required(at, "smtp_host", &ch.smtp_host, ch);
        let from = self.required(at, "from", &ch.from, ch);
        let (tls, port) = self.smtp_connection(at, ch);
        let to = self.recipients(at, ch);
        self.sender_mailbox(at, ch);
        let credentials = self.smtp_credentials(at, ch);
        Some(EmailChannel {
            smtp_host: host?,
            smtp_port: port,
            tls,
            credentials,
            from: from?,
            to,
            timeout,
        })
    }

    /// The SMTP TLS mode and port: the port defaults to the mode's usual one.
    fn smtp_connection(&mut self, at: &str, ch: &RawChannel) -> (TlsMode, u16) {
        let tls = match ch.tls.as_ref().map(|t| (t.get_ref().as_str(), t.span())) {
            None | Some(("starttls", _)) => TlsMode::Starttls,
            Some(("implicit", _)) => TlsMode::Implicit,
            Some(("none", _)) => TlsMode::None,
            Some((other, span)) => {
                self.problem(
                    format!("{at}.tls"),
                    span,
                    format!("{other:?} must be starttls, implicit or none"),
                );
                TlsMode::Starttls
            }
        };
        let port = match &ch.smtp_port {
            Some(p) => u16::try_from(*p.get_ref())
                .ok()
                .filter(|p| *p > 0)
                .unwrap_or_else(|| {
                    self.problem(
                        format!("{at}.smtp_port"),
                        p.span(),
                        format!("{} is not a port number", p.get_ref()),
                    );
                    0
                }),
            None => match tls {
                TlsMode::Starttls => 587,
                TlsMode::Implicit => 465,
                TlsMode::None => 25,
            },
        };
        (tls, port)
    }

    /// The `to` addresses: at least one, each an email address.
    fn recipients(&mut self, at: &str, ch: &RawChannel) -> Vec<String> {
        let to: Vec<String> = ch
            .to
            .as_ref()
            .map(|t| t.get_ref().iter().map(|s| s.get_ref().clone()).collect())
            .unwrap_or_default();
        if to.is_empty() {
            let span = ch.to.as_ref().map(|t| t.span()).unwrap_or(ch.id.span());
            self.problem(
                format!("{at}.to"),
                span,
                "needs at least one recipient address",
            );
        }
        for (j, address) in ch.to.iter().flat_map(|t| t.get_ref().iter()).enumerate() {
            if address.get_ref().parse::<lettre::Address>().is_err() {
                self.problem(
                    format!("{at}.to[{}]", j + 1),
                    address.span(),
                    format!("{:?} is not an email address", address.get_ref()),
                );
            }
        }
        to
    }

    /// The `from` mailbox, which lettre must be able to read.
    fn sender_mailbox(&mut self, at: &str, ch: &RawChannel) {
        if let Some(from_value) = &ch.from
            && from_value
                .get_ref()
                .parse::<lettre::message::Mailbox>()
                .is_err()
        {
            self.problem(
                format!("{at}.from"),
                from_value.span(),
                format!(
                    "{:?} is not an address like \"rasad <rasad@example.org>\"",
                    from_value.get_ref()
                ),
            );
        }
    }

    /// The SMTP login: a username and a password (from `password_env` or `_file`), both or
    /// neither.
    fn smtp_credentials(&mut self, at: &str, ch: &RawChannel) -> Option<(String, Secret)> {
        let password = self.secret(
            at,
            "password",
            &ch.password,
            &ch.password_env,
            &ch.password_file,
        );
        match (&ch.username, password) {
            (Some(user), Some(password)) => Some((user.get_ref().clone(), password)),
            (Some(user), None) => {
                self.problem(
                    format!("{at}.username"),
                    user.span(),
                    "is set but no password_env or password_file is",
                );
                None
            }
            (None, Some(_)) => {
                self.problem(
                    format!("{at}.username"),
                    ch.id.span(),
                    "is needed when a password is set",
                );
                None
            }
            (None, None) => None,
        }
    }

    pub(super) fn required(
        &mut self,
        at: &str,
        key: &str,
        value: &Option<Str>,
        ch: &RawChannel,
    ) -> Option<String> {
        match value {
            Some(v) if !v.get_ref().trim().is_empty() => Some(v.get_ref().clone()),
            _ => {
                self.problem(
                    format!("{at}.{key}"),
                    ch.id.span(),
                    format!("is required for a {} channel", ch.kind.get_ref()),
                );
                None
            }
        }
    }
    /// Resolves a secret given as `<name>_env` or `<name>_file`; an inline value is a problem.
    pub(super) fn secret(
        &mut self,
        at: &str,
        name: &str,
        inline: &Option<Str>,
        env: &Option<Str>,
        file: &Option<Str>,
    ) -> Option<Secret> {
        if let Some(value) = inline {
            self.problem(format!("{at}.{name}"), value.span(), format!("secrets never sit in the config file: name an environment variable with {name}_env or a file with {name}_file"));
        }
        match (env, file) {
            (Some(_), Some(f)) => {
                self.problem(
                    format!("{at}.{name}_file"),
                    f.span(),
                    format!("give {name}_env or {name}_file, not both"),
                );
                None
            }
            (Some(var), None) => match std::env::var(var.get_ref()) {
                Ok(value) if !value.is_empty() => Some(Secret::new(value)),
                _ => {
                    self.problem(
                        format!("{at}.{name}_env"),
                        var.span(),
                        format!("environment variable {} is not set", var.get_ref()),
                    );
                    None
                }
            },
            (None, Some(f)) => {
                let path = expand_credentials(f.get_ref());
                match std::fs::read_to_string(&path) {
                    Ok(value) if !value.trim().is_empty() => {
                        Some(Secret::new(value.trim_end_matches(['\n', '\r'])))
                    }
                    Ok(_) => {
                        self.problem(
                            format!("{at}.{name}_file"),
                            f.span(),
                            format!("{} is empty", path.display()),
                        );
                        None
                    }
                    Err(e) => {
                        self.problem(
                            format!("{at}.{name}_file"),
                            f.span(),
                            format!("cannot read {}: {e}", path.display()),
                        );
                        None
                    }
                }
            }
            (None, None) => None,
        }
    }

    /// Reports keys that the channel's kind does not use.
    pub(super) fn unused(&mut self, at: &str, ch: &RawChannel, kind: &str) {
        let email = [
            ("smtp_host", &ch.smtp_host),
            ("tls", &ch.tls),
            ("username", &ch.username),
            ("password_env", &ch.password_env),
            ("password_file", &ch.password_file),
            ("from", &ch.from),
        ];
        let webhook = [
            ("url", &ch.url),
            ("url_env", &ch.url_env),
            ("url_file", &ch.url_file),
            ("format", &ch.format),
            ("secret_env", &ch.secret_env),
            ("secret_file", &ch.secret_file),
            ("bot_token_env", &ch.bot_token_env),
            ("bot_token_file", &ch.bot_token_file),
            ("chat_id", &ch.chat_id),
        ];
        let mut foreign: Vec<(&str, &Option<Str>)> = Vec::new();
        if kind != "email" {
            foreign.extend(email);
        }
        if kind != "webhook" {
            foreign.extend(webhook);
        }
        for (key, value) in foreign {
            if let Some(value) = value {
                self.problem(
                    format!("{at}.{key}"),
                    value.span(),
                    format!("is not used by a {kind} channel"),
                );
            }
        }
        if kind != "email" {
            if let Some(port) = &ch.smtp_port {
                self.problem(
                    format!("{at}.smtp_port"),
                    port.span(),
                    format!("is not used by a {kind} channel"),
                );
            }
            if let Some(to) = &ch.to {
                self.problem(
                    format!("{at}.to"),
                    to.span(),
                    format!("is not used by a {kind} channel"),
                );
            }
        }
    }
}
