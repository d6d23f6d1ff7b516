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

/// Binds one statement may carry: SQLite's limit (`SQLITE_MAX_VARIABLE_NUMBER`, 32,766 since
/// 3.32), the smaller of the two (PostgreSQL's is 65,535). Multi-row statements are cut into
/// as many statements as this requires, so a poll costs a bounded number of statements.
pub(super) const MAX_BINDS: usize = 32_766;

/// How many rows of `per_row` binds fit in one statement beside `shared` binds.
pub(super) fn rows_per_statement(shared: usize, per_row: usize) -> usize {
    (MAX_BINDS - shared) / per_row.max(1)
}

/// `head`, then `rows` tuples, then `tail`: each tuple names the `shared` binds `$1..` (the
/// same for every row) and then `per_row` binds of its own, numbered on. Safe as SQL: the
/// text is built only from the static pieces and numbers.
///
/// `rows_sql("INSERT INTO t (a, b) VALUES ", 1, 1, 2, "")` is
/// `INSERT INTO t (a, b) VALUES ($1, $2), ($1, $3)`.
pub(super) fn rows_sql(
    head: &'static str,
    shared: usize,
    per_row: usize,
    rows: usize,
    tail: &'static str,
) -> AssertSqlSafe<String> {
    use std::fmt::Write;
    let mut out = String::with_capacity(head.len() + tail.len() + rows * (per_row + shared) * 7);
    out.push_str(head);
    for row in 0..rows {
        out.push_str(if row == 0 { "(" } else { ", (" });
        let own = (1..=per_row).map(|n| shared + row * per_row + n);
        for (i, n) in (1..=shared).chain(own).enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(out, "{sep}${n}").expect("writing to a String cannot fail");
        }
        out.push(')');
    }
    out.push_str(tail);
    AssertSqlSafe(out)
}

/// Runs statement `$sql` (from [`rows_sql`]) in transaction `$tx` with the binds that `$bind`
/// adds to `$query` for each row of `$rows`, on either driver; `?` on its error.
macro_rules! execute_rows {
    ($tx:expr, $sql:expr, $rows:expr, |$query:ident, $row:pat_param| $bind:expr) => {
        on!($tx.conn(), d, c => {
            let mut $query = sqlx::query($sql);
            for $row in $rows {
                $query = $bind;
            }
            $query.execute(c).await?;
        })
    };
}
pub(super) use execute_rows;

/// A list as the JSON text `json_each` reads.
pub(super) fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_numbered_after_the_shared_binds() {
        let cases = [
            ("one_row_no_shared", 0, 2, 1, "V ($1, $2);"),
            ("two_rows_no_shared", 0, 2, 2, "V ($1, $2), ($3, $4);"),
            (
                "shared_repeated",
                2,
                1,
                3,
                "V ($1, $2, $3), ($1, $2, $4), ($1, $2, $5);",
            ),
            ("no_rows", 1, 1, 0, "V ;"),
        ];
        for (name, shared, per_row, rows, expected) in cases {
            assert_eq!(
                rows_sql("V ", shared, per_row, rows, ";").0,
                expected,
                "{name}"
            );
        }
        // The largest statement stays within the bind limit.
        let rows = rows_per_statement(2, 6);
        assert!(2 + rows * 6 <= MAX_BINDS && 2 + (rows + 1) * 6 > MAX_BINDS);
    }

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
