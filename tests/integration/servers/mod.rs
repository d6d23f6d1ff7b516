//! Real loopback servers for the integration tests: an HTTP feed server with ETag /
//! Last-Modified support, an HTTP webhook receiver with scripted statuses, a plain-text SMTP
//! server that records messages, and a small MIME decoder for what `lettre` sends; one file per
//! server, the plumbing they share here.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Upper bound for every single read from (or write to) a client; a connection that stays
/// silent longer than this is closed by the server.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest accepted protocol line (HTTP request/header line, SMTP command or DATA line).
const MAX_LINE: u64 = 64 * 1024;

/// Largest accepted HTTP body or SMTP message.
const MAX_BODY: usize = 32 * 1024 * 1024;

mod feed;
mod http;
mod mime;
mod self_tests;
mod smtp;
mod webhook;

// The feedfarm example borrows these servers and uses only some of them.
#[allow(unused_imports)]
pub use feed::*;
#[allow(unused_imports)]
pub use http::*;
#[allow(unused_imports)]
pub use mime::*;
#[allow(unused_imports)]
pub use smtp::*;
#[allow(unused_imports)]
pub use webhook::*;

/// Locks a mutex, ignoring poisoning (a panicking test must not cascade into the servers).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Binds a listener on 127.0.0.1:`port` with `SO_REUSEADDR`, so a port can be reused right
/// after a previous server on it was shut down.
fn bind_loopback(port: u16) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(1024)
}

/// Like [`bind_loopback`], retrying for a short while when the port is still in use.
async fn bind_loopback_retrying(port: u16) -> io::Result<TcpListener> {
    let mut attempts = 0;
    loop {
        match bind_loopback(port) {
            Err(err) if err.kind() == io::ErrorKind::AddrInUse && port != 0 && attempts < 60 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// The accept loop of one server plus the tasks of its open connections.
struct ServerTask {
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

impl ServerTask {
    /// Spawns the accept loop; every accepted connection is handled by `handler` in its own task.
    fn spawn<F, Fut>(listener: TcpListener, handler: F) -> io::Result<Self>
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let addr = listener.local_addr()?;
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let tracked = Arc::clone(&connections);
        let accept = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _peer)) => {
                        let _ = stream.set_nodelay(true);
                        let mut set = lock(&tracked);
                        while set.try_join_next().is_some() {}
                        set.spawn(handler(stream));
                    }
                    // Transient errors (e.g. too many open files): back off briefly.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        });
        Ok(Self {
            addr,
            accept: Some(accept),
            connections,
        })
    }

    /// Stops accepting, closes the listening socket and every open connection, and waits until
    /// all of them are gone.
    async fn shutdown(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
        let mut set = std::mem::take(&mut *lock(&self.connections));
        set.shutdown().await;
    }
}

impl Drop for ServerTask {
    fn drop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        lock(&self.connections).abort_all();
    }
}

/// Polls `done` every 10 ms until it returns true or `timeout` elapses.
async fn poll_until(timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "client i/o timed out")
}

/// Reads one line (terminator included) into `buf`, bounded in time and length.
/// Returns 0 at end of stream.
async fn read_line(conn: &mut BufReader<TcpStream>, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.clear();
    let mut limited = (&mut *conn).take(MAX_LINE);
    let n = tokio::time::timeout(IO_TIMEOUT, limited.read_until(b'\n', buf))
        .await
        .map_err(|_| timed_out())??;
    if n as u64 == MAX_LINE && buf.last() != Some(&b'\n') {
        return Err(invalid("line too long"));
    }
    Ok(n)
}

/// Reads exactly `len` more bytes and appends them to `out`, bounded in time.
async fn read_exact_into(
    conn: &mut BufReader<TcpStream>,
    out: &mut Vec<u8>,
    len: usize,
) -> io::Result<()> {
    let start = out.len();
    out.resize(start + len, 0);
    tokio::time::timeout(IO_TIMEOUT, conn.read_exact(&mut out[start..]))
        .await
        .map_err(|_| timed_out())??;
    Ok(())
}

/// Writes all of `bytes` and flushes, bounded in time.
async fn write_all(conn: &mut BufReader<TcpStream>, bytes: &[u8]) -> io::Result<()> {
    let stream = conn.get_mut();
    let write = async {
        stream.write_all(bytes).await?;
        stream.flush().await
    };
    tokio::time::timeout(IO_TIMEOUT, write)
        .await
        .map_err(|_| timed_out())?
}

/// Strips a trailing `\n` or `\r\n`.
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
