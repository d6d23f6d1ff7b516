//! The state in one SQLite file (WAL), written through one connection so that writers never
//! contend; migrations are embedded in the binary.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::StoreError;

/// How long a write may wait for the store's one connection before it fails.
const STORE_QUEUE_LIMIT: Duration = Duration::from_secs(600);

/// Opens (creating when missing) the database at `path` and brings its schema up to date.
pub(super) async fn open(path: &Path) -> Result<SqlitePool, StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| StoreError::Folder {
            path: parent.display().to_string(),
            source,
        })?;
    }
    let open_error = |source| StoreError::Open {
        path: path.display().to_string(),
        source,
    };
    let options = SqliteConnectOptions::from_str("sqlite:")
        .map_err(open_error)?
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        // 16 MiB of page cache (the default is 2 MiB): the fingerprint index and the story
        // keys of thousands of feeds are read at every poll, and a page re-read from the
        // file costs a system call and a copy.
        .pragma("cache_size", "-16384")
        // Temporary files in memory: a multi-row INSERT … ON CONFLICT keeps a statement
        // journal, which SQLite otherwise spills to a temporary file it opens and writes for
        // every poll's stories (a tenth of the SQLite thread's time in a first cycle).
        .pragma("temp_store", "memory");
    // One connection: every write is serialised in-process and SQLite never answers BUSY
    // between our own writers; reads are short. It also serialises clustering, which
    // PostgreSQL does with a lock.
    // Many feeds polled at once queue here for the one connection: a long queue is slow, not
    // an error, so the wait for it is generous.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(STORE_QUEUE_LIMIT)
        .connect_with(options)
        .await
        .map_err(open_error)?;
    sqlx::migrate!("migrations/sqlite").run(&pool).await?;
    Ok(pool)
}
