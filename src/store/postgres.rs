//! What only the PostgreSQL backend has, that several instances share: its pools, the
//! advisory lock that serialises clustering across instances, and the NOTIFY/LISTEN that wakes
//! every instance's outbox when a poll adds deliveries. Feeds and deliveries are claimed with
//! `FOR UPDATE SKIP LOCKED` under a lease that names the instance (see `feeds` and `outbox`).

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use super::backend::Tx;
use super::{StateLocation, StoreError};

/// How long a statement may wait for one of the pool's connections before it fails.
const POOL_QUEUE_LIMIT: Duration = Duration::from_secs(600);
/// Connections per instance: polls record in parallel, and the outbox claims beside them.
const POOL_SIZE: u32 = 8;
/// Connections kept for leases (see `Store::leases`).
const LEASE_POOL_SIZE: u32 = 2;
/// The advisory lock key that serialises clustering across instances (any fixed number; this
/// one spells "rasad" in ASCII).
const CLUSTER_LOCK: i64 = 0x72_6173_6164;
/// The channel a poll NOTIFYs when it added deliveries.
const OUTBOX_CHANNEL: &str = "rasad_outbox";
/// The wait before the notification listener connects again after it failed.
const LISTEN_RETRY: Duration = Duration::from_secs(2);

/// A PostgreSQL database's connections.
#[derive(Debug, Clone)]
pub(super) struct PgDb {
    pub(super) pool: PgPool,
    /// For lease statements only.
    pub(super) leases: PgPool,
    /// The URL, kept for the notification listener's own connection.
    url: Arc<str>,
}

/// Connects to the database at `url` and brings its schema up to date. sqlx's migrator holds
/// an advisory lock while it runs, so instances that start together apply each migration once.
pub(super) async fn open(url: &str) -> Result<PgDb, StoreError> {
    let shown = StateLocation::Postgres(url.to_owned()).to_string();
    let open_error = |source| StoreError::Open {
        path: shown.clone(),
        source,
    };
    let options: PgConnectOptions = url.parse().map_err(open_error)?;
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(POOL_QUEUE_LIMIT)
        .connect_with(options.clone())
        .await
        .map_err(open_error)?;
    sqlx::migrate!("migrations/postgres").run(&pool).await?;
    // Opened on first use: commands that take no lease never connect it.
    let leases = PgPoolOptions::new()
        .max_connections(LEASE_POOL_SIZE)
        .acquire_timeout(POOL_QUEUE_LIMIT)
        .connect_lazy_with(options);
    Ok(PgDb {
        pool,
        leases,
        url: url.into(),
    })
}

/// Serialises clustering across instances until the transaction ends; nothing on SQLite,
/// whose one connection already does.
pub(super) async fn lock_clustering(tx: &mut Tx) -> Result<(), StoreError> {
    if let Tx::Postgres(tx) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CLUSTER_LOCK)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Tells every instance's listener, at commit, that `deliveries` were added; nothing on
/// SQLite, where the one process that added them already knows.
pub(super) async fn notify_outbox(tx: &mut Tx, deliveries: usize) -> Result<(), StoreError> {
    if let Tx::Postgres(tx) = tx {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(OUTBOX_CHANNEL)
            .bind(deliveries.to_string())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl PgDb {
    pub(super) async fn close(&self) {
        self.leases.close().await;
        self.pool.close().await;
    }

    /// LISTENs on the outbox channel with a connection of its own and wakes `wake` at each
    /// notification, until `stop`. A failed or lost connection is logged and opened again after
    /// a pause; `wake` is woken then too, since notifications sent meanwhile are lost.
    pub(super) async fn listen_for_deliveries(
        &self,
        wake: Arc<tokio::sync::Notify>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        loop {
            let listened = tokio::select! {
                () = stop.cancelled() => return,
                listened = self.listen_once(&wake) => listened,
            };
            if let Err(e) = listened {
                tracing::warn!(error = %e, "outbox notifications lost; listening again shortly");
            }
            wake.notify_one();
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(LISTEN_RETRY) => {}
            }
        }
    }

    /// Listens until the connection fails.
    async fn listen_once(&self, wake: &tokio::sync::Notify) -> Result<(), StoreError> {
        let listen_error = |source| StoreError::Listen {
            location: StateLocation::Postgres(self.url.to_string()).to_string(),
            source,
        };
        let mut listener = PgListener::connect(&self.url).await.map_err(listen_error)?;
        listener
            .listen(OUTBOX_CHANNEL)
            .await
            .map_err(listen_error)?;
        tracing::debug!(channel = OUTBOX_CHANNEL, "listening for new deliveries");
        loop {
            // `None` says the connection was lost and opened again: what was sent meanwhile is
            // lost, so the outbox looks at its queue either way.
            listener.try_recv().await.map_err(listen_error)?;
            wake.notify_one();
        }
    }
}
