//! Checks of the `[daemon]` table that go beyond a single value: the PostgreSQL state URL and
//! its password.

use super::*;

impl Checker<'_> {
    /// A `postgres://` state: a valid URL without a password of its own (secrets never sit in
    /// the file), given one by `daemon.state_password_env` or `_file` when they are set.
    pub(super) fn postgres_state(
        &mut self,
        value: &Str,
        daemon: &super::raw::RawDaemon,
    ) -> StateLocation {
        let mut url = match Url::parse(value.get_ref()) {
            Ok(url) => url,
            Err(e) => {
                self.problem(
                    "daemon.state",
                    value.span(),
                    format!("not a valid PostgreSQL URL: {e}"),
                );
                return StateLocation::Postgres(value.get_ref().clone());
            }
        };
        let inline = url.password().is_some()
            || url
                .query_pairs()
                .any(|(k, _)| k.eq_ignore_ascii_case("password"));
        if inline {
            self.problem(
                "daemon.state",
                value.span(),
                "secrets never sit in the config file: take the password out of the URL and name it with daemon.state_password_env or daemon.state_password_file (or set PGPASSWORD)",
            );
        }
        let password = self.secret(
            "daemon",
            "state_password",
            &None,
            &daemon.state_password_env,
            &daemon.state_password_file,
        );
        if let Some(password) = password
            && url.set_password(Some(password.expose())).is_err()
        {
            self.problem(
                "daemon.state",
                value.span(),
                "this URL cannot carry a password (it has no host)",
            );
        }
        StateLocation::Postgres(url.to_string())
    }
}
