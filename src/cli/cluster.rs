//! `rasad cluster`: groups the stories of a JSON file into clusters, as the daemon would.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use rasad::config::Config;
use rasad::matcher::Matcher;
use rasad::store::Store;

use crate::{Failure, input, runtime_failure};

/// One item of `rasad cluster`'s input.
#[derive(Debug, serde::Deserialize)]
struct ClusterItem {
    id: String,
    #[serde(default)]
    outlet: Option<String>,
    feed_url: url::Url,
    #[serde(default)]
    guid: Option<String>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    published: chrono::DateTime<chrono::FixedOffset>,
}

pub(crate) async fn cluster(
    file: PathBuf,
    window: std::time::Duration,
    threshold: f64,
) -> Result<ExitCode, Failure> {
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))
        .map_err(input)?;
    let mut items = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let item: ClusterItem = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not an item", file.display(), n + 1))
            .map_err(input)?;
        items.push(item);
    }
    items.sort_by_key(|i| i.published);
    let dir = std::env::temp_dir().join(format!("rasad-cluster-{}", uuid::Uuid::now_v7()));
    let store = Store::open(&dir.join("state.db"))
        .await
        .map_err(runtime_failure)?;
    let mut config = Config::parse("", &dir.join("rasad.toml")).map_err(input)?;
    config.daemon.cluster_window = window;
    let matcher = Matcher::new(Vec::new()).map_err(input)?;
    let mut out = Vec::new();
    for item in &items {
        let published = item.published.with_timezone(&chrono::Utc);
        let feed = rasad::config::Feed {
            id: item.feed_url.to_string(),
            name: item
                .outlet
                .clone()
                .unwrap_or_else(|| item.feed_url.to_string()),
            url: item.feed_url.clone(),
            interval: rasad::config::defaults::POLL_INTERVAL,
        };
        let story = rasad::model::Story {
            feed: feed.id.clone(),
            key: String::new(),
            title: item.title.clone(),
            summary_html: item.summary.clone(),
            summary: item.summary.clone(),
            content_html: String::new(),
            content: String::new(),
            url: item.link.clone(),
            guid: item.guid.clone(),
            published: Some(published),
            fetched: published,
        };
        let policy = rasad::dedupe::ClusterPolicy {
            threshold,
            ..config.daemon.cluster_policy()
        };
        let cluster =
            rasad::pipeline::record_read(&config, &feed, &matcher, &store, story, &policy)
                .await
                .map_err(runtime_failure)?;
        out.push((item.id.clone(), cluster));
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    for (id, cluster) in out {
        let cluster = cluster.map_or_else(|| "null".to_owned(), |c| c.to_string());
        println!(
            "{{\"id\": {}, \"cluster\": {cluster}}}",
            serde_json::Value::from(id)
        );
    }
    Ok(ExitCode::SUCCESS)
}
