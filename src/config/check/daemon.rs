//! Checks of the `[daemon]` table: the state (a file, or a PostgreSQL URL and its password),
//! the instance name, leases, the admin address, retention and the clustering window.

use super::*;

impl Checker<'_> {
    /// The `[daemon]` table; relative state paths are taken from `base`, the config's folder.
    pub(super) fn daemon(&mut self, raw: &super::raw::RawDaemon, base: &Path) -> Daemon {
        let state = match &raw.state {
            Some(s) if s.get_ref().trim().is_empty() => {
                self.problem(
                    "daemon.state",
                    s.span(),
                    "must not be empty; leave it out for the default",
                );
                StateLocation::File(PathBuf::new())
            }
            Some(s) if is_postgres_url(s.get_ref()) => self.postgres_state(s, raw),
            Some(s) => StateLocation::parse(s.get_ref(), base),
            None => StateLocation::File(default_state_path()),
        };
        if let (StateLocation::File(_), Some(key)) = (
            &state,
            raw.state_password_env
                .as_ref()
                .or(raw.state_password_file.as_ref()),
        ) {
            self.problem(
                "daemon.state_password",
                key.span(),
                "is only used with a postgres:// state",
            );
        }
        let instance = match &raw.instance {
            Some(s) if s.get_ref().trim().is_empty() || s.get_ref().len() > 128 => {
                self.problem(
                    "daemon.instance",
                    s.span(),
                    "must be 1 to 128 characters; leave it out for host name and process id",
                );
                String::new()
            }
            Some(s) => s.get_ref().trim().to_owned(),
            None => default_instance(),
        };
        let lease = self.duration("daemon.lease", &raw.lease, DEFAULT_LEASE);
        if lease < MIN_LEASE
            && let Some(value) = &raw.lease
        {
            self.problem(
                "daemon.lease",
                value.span(),
                format!(
                    "{} is too short: an instance must be able to renew its leases; at least {}",
                    humantime::format_duration(lease),
                    humantime::format_duration(MIN_LEASE)
                ),
            );
        }
        let listen = self.listen(&raw.listen);
        let retention = self.duration_within(
            "daemon.retention",
            &raw.retention,
            Duration::from_secs(30 * 24 * 3600),
            MAX_RETENTION,
        );
        let cluster_window = self.duration(
            "daemon.cluster_window",
            &raw.cluster_window,
            defaults::CLUSTER_WINDOW,
        );
        Daemon {
            state,
            instance,
            lease,
            listen,
            retention,
            cluster_window,
        }
    }

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
