//! Checks of the `[web]` table: the desk's token (from the environment or a file, long enough to
//! resist guessing), its session length and cookie flag, and an admin listener to serve it on.

use super::raw::RawWeb;
use super::*;

/// The shortest token accepted: 16 characters of a random token are beyond guessing over HTTP,
/// and the token is the desk's only credential.
pub const MIN_TOKEN_CHARS: usize = 16;
/// How long a login lasts unless `web.session` says otherwise (12 h: a working day).
pub const DEFAULT_SESSION: Duration = Duration::from_secs(12 * 3600);
/// The longest session accepted: a stolen cookie must run out within a month at worst.
pub const MAX_SESSION: Duration = Duration::from_secs(31 * 24 * 3600);

impl Checker<'_> {
    /// The `[web]` table, when there is one; `listening`: `daemon.listen` is not off.
    pub(super) fn web(&mut self, raw: &Option<Spanned<RawWeb>>, listening: bool) -> Option<Web> {
        let raw = raw.as_ref()?;
        let span = raw.span();
        let web = raw.get_ref();
        let session =
            self.duration_within("web.session", &web.session, DEFAULT_SESSION, MAX_SESSION);
        if !listening {
            self.problem(
                "web",
                span.clone(),
                "the desk is served on the admin listener, which daemon.listen = \"\" turns off",
            );
        }
        if web.token.is_none() && web.token_env.is_none() && web.token_file.is_none() {
            self.problem(
                "web",
                span,
                "needs token_file or token_env: the token every request to the desk carries",
            );
            return None;
        }
        let token = self.secret("web", "token", &web.token, &web.token_env, &web.token_file)?;
        self.token_length(&token, web);
        Some(Web {
            token,
            secure_cookie: web.secure_cookie.unwrap_or(false),
            session,
        })
    }

    /// Refuses a token shorter than [`MIN_TOKEN_CHARS`], naming the key it came from (never
    /// the token).
    fn token_length(&mut self, token: &Secret, web: &RawWeb) {
        if token.expose().chars().count() >= MIN_TOKEN_CHARS {
            return;
        }
        let (key, span) = match (&web.token_env, &web.token_file) {
            (Some(var), _) => ("token_env", var.span()),
            (None, Some(file)) => ("token_file", file.span()),
            (None, None) => return,
        };
        self.problem(
            format!("web.{key}"),
            span,
            format!(
                "the token must be at least {MIN_TOKEN_CHARS} characters (e.g. `openssl rand -hex 32`)"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[[feed]]
id = "bbc"
url = "https://feeds.bbci.co.uk/arabic/rss.xml"
"#;

    fn parse(web: &str) -> Result<Config, Vec<String>> {
        let text = format!("{BASE}\n{web}\n");
        Config::parse(&text, Path::new("/etc/rasad/rasad.toml")).map_err(|e| match e {
            ConfigError::Invalid { problems, .. } => {
                problems.iter().map(|p| p.to_string()).collect()
            }
            other => vec![other.to_string()],
        })
    }

    #[test]
    fn reads_the_web_table_with_its_defaults() {
        let dir = tempfile::tempdir().expect("a folder");
        let file = dir.path().join("token");
        std::fs::write(&file, "0123456789abcdef0123\n").expect("written");
        let config = parse(&format!(
            "[web]\ntoken_file = {:?}",
            file.display().to_string()
        ))
        .expect("valid");
        let web = config.web.expect("the desk is on");
        assert_eq!(web.token.expose(), "0123456789abcdef0123");
        assert!(!web.secure_cookie);
        assert_eq!(web.session, DEFAULT_SESSION);
        let without = parse("").expect("valid");
        assert!(without.web.is_none(), "no [web], no desk");
    }

    #[test]
    fn warns_of_a_desk_in_clear_on_a_public_address() {
        let dir = tempfile::tempdir().expect("a folder");
        let file = dir.path().join("token");
        std::fs::write(&file, "0123456789abcdef0123").expect("written");
        let token = format!("token_file = {:?}", file.display().to_string());
        let cases = [
            ("loopback", "127.0.0.1:9797", "", false),
            ("public_in_clear", "0.0.0.0:9797", "", true),
            (
                "public_behind_tls",
                "0.0.0.0:9797",
                "secure_cookie = true",
                false,
            ),
        ];
        for (name, listen, extra, warned) in cases {
            let config = parse(&format!(
                "[daemon]\nlisten = {listen:?}\n[web]\n{token}\n{extra}"
            ))
            .expect(name);
            let got = config.warnings().iter().any(|w| w.starts_with("web: "));
            assert_eq!(got, warned, "{name}: {:?}", config.warnings());
        }
    }

    #[test]
    fn refuses_a_web_table_that_cannot_serve_the_desk() {
        let dir = tempfile::tempdir().expect("a folder");
        let short = dir.path().join("short");
        std::fs::write(&short, "tooshort\n").expect("written");
        let good = dir.path().join("good");
        std::fs::write(&good, "0123456789abcdef0123").expect("written");
        let short = format!("token_file = {:?}", short.display().to_string());
        let good = format!("token_file = {:?}", good.display().to_string());
        let cases = [
            (
                "no_token",
                "[web]\n".to_owned(),
                "web: needs token_file or token_env",
            ),
            (
                "token_in_the_file",
                "[web]\ntoken = \"0123456789abcdef0123\"".to_owned(),
                "web.token: secrets never sit in the config file",
            ),
            (
                "both_env_and_file",
                format!("[web]\ntoken_env = \"HOME\"\n{good}"),
                "web.token_file: give token_env or token_file, not both",
            ),
            (
                "unset_variable",
                "[web]\ntoken_env = \"RASAD_TEST_SURELY_UNSET\"".to_owned(),
                "web.token_env: environment variable RASAD_TEST_SURELY_UNSET is not set",
            ),
            (
                "short_token",
                format!("[web]\n{short}"),
                "web.token_file: the token must be at least 16 characters",
            ),
            (
                "session_too_long",
                format!("[web]\n{good}\nsession = \"90days\""),
                "web.session: \"90days\" is too long",
            ),
            (
                "admin_listener_off",
                format!("[daemon]\nlisten = \"\"\n[web]\n{good}"),
                "web: the desk is served on the admin listener",
            ),
            (
                "unknown_key",
                format!("[web]\n{good}\ncookie = true"),
                "unknown field `cookie`",
            ),
        ];
        for (name, web, want) in cases {
            let got = parse(&web).map(|_| ()).expect_err(name);
            assert_eq!(got.len(), 1, "{name}: {got:?}");
            assert!(got[0].contains(want), "{name}: {got:?} lacks {want:?}");
            assert!(!got[0].contains("tooshort"), "{name}: the token is quoted");
        }
    }
}
