//! The fetcher against a real HTTP server: limits on size and time, conditional requests, and
//! `file://` feeds.

use std::time::Duration;

use rasad::source::fetch::{FetchError, FetchOutcome, Fetcher, Validators};

use crate::servers::FeedServer;

fn fetcher(timeout: Duration, max_body: u64) -> Fetcher {
    Fetcher::new("rasad-test", Duration::from_secs(2), timeout, max_body).expect("client builds")
}

fn url(s: &str) -> url::Url {
    url::Url::parse(s).expect("valid URL")
}

#[tokio::test]
async fn a_body_over_the_limit_fails_the_fetch() {
    let server = FeedServer::start().await;
    server.set("/big.xml", vec![b'x'; 4096], "application/rss+xml");
    server.set("/small.xml", vec![b'x'; 1024], "application/rss+xml");
    let fetcher = fetcher(Duration::from_secs(5), 2048);
    let outcome = fetcher
        .fetch(&url(&server.url("/big.xml")), &Validators::default())
        .await;
    assert!(
        matches!(
            outcome,
            FetchOutcome::Failed(FetchError::TooLarge { limit: 2048 })
        ),
        "{outcome:?}"
    );
    let outcome = fetcher
        .fetch(&url(&server.url("/small.xml")), &Validators::default())
        .await;
    assert!(
        matches!(outcome, FetchOutcome::Modified { ref body, .. } if body.len() == 1024),
        "{outcome:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let server = FeedServer::start().await;
    server.set("/slow.xml", "<rss/>", "application/rss+xml");
    server.set_delay(Some(Duration::from_secs(3)));
    let started = std::time::Instant::now();
    let outcome = fetcher(Duration::from_millis(500), 1 << 20)
        .fetch(&url(&server.url("/slow.xml")), &Validators::default())
        .await;
    assert!(
        matches!(outcome, FetchOutcome::Failed(FetchError::Timeout(_))),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "gave up in time: {:?}",
        started.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn validators_make_the_request_conditional() {
    let server = FeedServer::start().await;
    server.set("/feed.xml", "<rss/>", "application/rss+xml");
    let fetcher = fetcher(Duration::from_secs(5), 1 << 20);
    let feed = url(&server.url("/feed.xml"));
    let FetchOutcome::Modified { validators, .. } =
        fetcher.fetch(&feed, &Validators::default()).await
    else {
        panic!("first fetch gives a body");
    };
    assert_eq!(validators.etag, server.etag("/feed.xml"));
    assert_eq!(validators.last_modified, server.last_modified("/feed.xml"));
    assert!(matches!(
        fetcher.fetch(&feed, &validators).await,
        FetchOutcome::NotModified
    ));
    let only_date = Validators {
        etag: None,
        ..validators
    };
    assert!(matches!(
        fetcher.fetch(&feed, &only_date).await,
        FetchOutcome::NotModified
    ));
    assert_eq!(server.not_modified_count("/feed.xml"), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn rate_limits_carry_the_retry_after_hint() {
    let server = FeedServer::start().await;
    server.set("/feed.xml", "<rss/>", "application/rss+xml");
    server.set_status("/feed.xml", 503);
    let outcome = fetcher(Duration::from_secs(5), 1 << 20)
        .fetch(&url(&server.url("/feed.xml")), &Validators::default())
        .await;
    assert!(
        matches!(outcome, FetchOutcome::RateLimited { status: 503, .. }),
        "{outcome:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn file_urls_are_read_from_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("feed.xml");
    std::fs::write(
        &path,
        "<rss version=\"2.0\"><channel><title>ملف</title></channel></rss>",
    )
    .expect("written");
    let fetcher = fetcher(Duration::from_secs(5), 1 << 20);
    let file_url = url::Url::from_file_path(&path).expect("absolute path");
    let outcome = fetcher.fetch(&file_url, &Validators::default()).await;
    assert!(
        matches!(outcome, FetchOutcome::Modified { ref body, .. } if body.starts_with(b"<rss")),
        "{outcome:?}"
    );
    let missing = url::Url::from_file_path(dir.path().join("missing.xml")).expect("absolute path");
    let outcome = fetcher.fetch(&missing, &Validators::default()).await;
    assert!(
        matches!(outcome, FetchOutcome::Failed(FetchError::File { .. })),
        "{outcome:?}"
    );
}
