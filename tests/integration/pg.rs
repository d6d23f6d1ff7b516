//! A PostgreSQL database of its own for one test: created from `RASAD_TEST_POSTGRES_URL` under
//! a unique name, dropped when the test ends (also when it fails). Tests skip PostgreSQL, with a
//! printed note, when the variable is unset; under CI they fail instead (`support::missing`).

use std::sync::atomic::{AtomicUsize, Ordering};

/// The variable that names the server tests may create databases on.
pub const URL_VAR: &str = "RASAD_TEST_POSTGRES_URL";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A database created for one test; dropped with it.
pub struct TestDatabase {
    /// The URL of the new database.
    pub url: String,
    base: String,
    name: String,
}

impl TestDatabase {
    /// Creates a fresh database, or returns `None` (after printing why) when
    /// `RASAD_TEST_POSTGRES_URL` is unset; panics when it is unset under CI, or when the server
    /// does not answer.
    pub async fn create(test: &str) -> Option<TestDatabase> {
        let Some(base) = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty()) else {
            crate::support::missing(test, &format!("PostgreSQL part: {URL_VAR} is not set"));
            return None;
        };
        let name = format!(
            "rasad_t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = connect(&base).await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut admin)
        .await
        .expect("an old test database dropped");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("a test database created");
        let mut url = url::Url::parse(&base).expect("RASAD_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        Some(TestDatabase {
            url: url.to_string(),
            base,
            name,
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection to the server's base database, to act on this one from outside.
    pub async fn connect_admin(&self) -> sqlx::PgConnection {
        connect(&self.base).await
    }

    /// A connection of the test's own to the database, to look behind the store.
    pub async fn connect(&self) -> sqlx::PgConnection {
        connect(&self.url).await
    }
}

async fn connect(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

impl Drop for TestDatabase {
    /// Drops the database on a thread of its own (a runtime cannot block inside another),
    /// forcing out connections a killed process or a failed test left open.
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(async move {
                let mut admin = connect(&base).await;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(_))) {
            eprintln!("warning: test database {} was not dropped", self.name);
        }
    }
}
