//! The one place where the two sqlx drivers part: a `Backend` holds either a SQLite or a
//! PostgreSQL pool, connection or transaction, and `on!` runs one block of code on whichever it
//! holds. The block is compiled once per driver, so each arm keeps sqlx's own types (rows,
//! binds, executors); only the SQL text may differ, through [`Dialect`].

use std::borrow::Cow;

use sqlx::{AssertSqlSafe, PgConnection, PgPool, SqliteConnection, SqlitePool, Transaction};

/// One thing of either driver.
#[derive(Debug, Clone)]
pub(super) enum Backend<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// A pool to run one statement on.
pub(super) type Pool<'a> = Backend<&'a SqlitePool, &'a PgPool>;
/// A connection inside a transaction.
pub(super) type Conn<'a> = Backend<&'a mut SqliteConnection, &'a mut PgConnection>;
/// A transaction in progress.
pub(super) type Tx =
    Backend<Transaction<'static, sqlx::Sqlite>, Transaction<'static, sqlx::Postgres>>;

/// Runs `$body` with `$c` bound to the backend's value and `$d` to its [`Dialect`]; the body
/// is written once and type-checked for each driver.
macro_rules! on {
    ($backend:expr, $d:ident, $c:ident => $body:expr) => {{
        let backend = $backend;
        #[allow(unused_variables)]
        let $d = backend.dialect();
        match backend {
            $crate::store::backend::Backend::Sqlite($c) => $body,
            $crate::store::backend::Backend::Postgres($c) => $body,
        }
    }};
}
pub(super) use on;

/// The database's clock in milliseconds, on PostgreSQL: leases shared by several instances are
/// timed by it, so that an instance whose clock is off cannot take a lease that is still live.
macro_rules! pg_now {
    () => {
        "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
    };
}
pub(super) use pg_now;

impl<S, P> Backend<S, P> {
    pub(super) fn dialect(&self) -> Dialect {
        match self {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }
}

impl Pool<'_> {
    pub(super) async fn begin(self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Backend::Sqlite(pool) => Backend::Sqlite(pool.begin().await?),
            Backend::Postgres(pool) => Backend::Postgres(pool.begin().await?),
        })
    }
}

impl Tx {
    /// The transaction's connection, for one statement.
    pub(super) fn conn(&mut self) -> Conn<'_> {
        match self {
            Backend::Sqlite(tx) => Backend::Sqlite(&mut **tx),
            Backend::Postgres(tx) => Backend::Postgres(&mut **tx),
        }
    }

    pub(super) async fn commit(self) -> Result<(), sqlx::Error> {
        on!(self, d, tx => tx.commit().await)
    }

    pub(super) async fn rollback(self) -> Result<(), sqlx::Error> {
        on!(self, d, tx => tx.rollback().await)
    }
}

/// Which SQL a statement is spelled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A statement written once. Lists are bound as JSON text on both backends and read with
    /// SQLite's `json_each($n)`, which PostgreSQL spells `json_array_elements_text($n::json)`
    /// (both name the element `value`): the one rewrite, so that no statement is written
    /// twice for it. Safe as SQL: the text is built only from the static statement.
    pub(super) fn sql(self, text: &'static str) -> AssertSqlSafe<Cow<'static, str>> {
        AssertSqlSafe(self.rewrite(text))
    }

    fn rewrite(self, text: &'static str) -> Cow<'static, str> {
        const SQLITE: &str = "json_each(";
        if self == Dialect::Sqlite || !text.contains(SQLITE) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + 32);
        let mut rest = text;
        while let Some(at) = rest.find(SQLITE) {
            out.push_str(&rest[..at]);
            rest = &rest[at + SQLITE.len()..];
            let Some(close) = rest.find(')') else {
                // Not a call this rewrite knows: left as written, for PostgreSQL to reject.
                out.push_str(SQLITE);
                break;
            };
            out.push_str("json_array_elements_text(");
            out.push_str(&rest[..close]);
            out.push_str("::json");
            rest = &rest[close..];
        }
        out.push_str(rest);
        Cow::Owned(out)
    }

    /// The one of two spellings for this dialect, where they differ beyond lists.
    pub(super) fn pick(self, sqlite: &'static str, postgres: &'static str) -> &'static str {
        match self {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        }
    }
}

/// A list as the JSON text `json_each` reads.
pub(super) fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_rewritten_for_postgres_only() {
        use Dialect::Postgres as Pg;
        // `None`: the text is left as written.
        let one = "WHERE id IN (SELECT value FROM json_each($2))";
        let cases = [
            ("no_list", Pg, "SELECT 1 WHERE $1", None),
            ("sqlite_unchanged", Dialect::Sqlite, one, None),
            (
                "one_list",
                Pg,
                one,
                Some("WHERE id IN (SELECT value FROM json_array_elements_text($2::json))"),
            ),
            (
                "two_lists",
                Pg,
                "json_each($1) AND json_each($12)",
                Some("json_array_elements_text($1::json) AND json_array_elements_text($12::json)"),
            ),
            ("unclosed_call", Pg, "json_each($1", None),
        ];
        for (name, dialect, text, expected) in cases {
            let expected = expected.unwrap_or(text);
            assert_eq!(dialect.sql(text).0, expected, "{name}");
        }
    }
}
