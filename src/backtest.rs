//! A topic tried on the stories the store kept: the alerts it would have raised since a given
//! time, found by the daemon's own matcher (folding, clitics, `all`/`any`/`none`, fields), with
//! the words it matched in highlighted snippets and a count per keyword.
//!
//! Stories are read a page at a time, newest first, and matched off the async workers; memory
//! holds one page and at most `limit` alerts, however many stories the retention keeps. A
//! story is matched on its kept title and summary (the content is not kept), as if it were new:
//! the daemon's first poll of a feed, which records without alerting, is not replayed. Copies
//! of one story (a cluster) make one alert, shown by the copy seen first, as the daemon sends it.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::matcher::{Matcher, MatcherError, TopicSpec, snippet_range};
use crate::model::{Field, Hit};
use crate::store::{Store, StoreError, StoredStory};

/// Stories read and matched at a time.
pub const PAGE_STORIES: u32 = 500;
/// The most alerts one backtest returns: a rule that alerts on more than this is too broad to
/// read story by story, and the counts still say how broad.
pub const MAX_ALERTS: usize = 1_000;

/// A rule to try: one topic's keywords and options, compiled once.
#[derive(Debug, Clone)]
pub struct Rule {
    topic: TopicSpec,
    matcher: Arc<Matcher>,
}

impl Rule {
    /// Compiles `topic` with the daemon's matcher.
    pub fn new(topic: TopicSpec) -> Result<Rule, MatcherError> {
        let matcher = Matcher::new(vec![topic.clone()])?;
        Ok(Rule {
            topic,
            matcher: Arc::new(matcher),
        })
    }

    /// Whether the rule searches a field that stories keep (title, summary).
    pub fn searches_kept_text(&self) -> bool {
        self.topic
            .fields
            .iter()
            .any(|f| matches!(f, Field::Title | Field::Summary))
    }

    /// The keywords that can make an alert (`any`, then `all`), once each, in the rule's order.
    fn counted_keywords(&self) -> Vec<String> {
        let mut keywords: Vec<String> = Vec::new();
        for spec in self.topic.any.iter().chain(&self.topic.all) {
            if !keywords.contains(&spec.term) {
                keywords.push(spec.term.clone());
            }
        }
        keywords
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("matching a page of stories failed: {0}")]
    Matching(String),
}

/// What a rule would have alerted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestReport {
    /// The stories tried were first seen at or after this time.
    pub since: DateTime<Utc>,
    /// Stories read.
    pub stories: u64,
    /// Stories read that had no summary (recorded before summaries were kept): matched on
    /// their title alone.
    pub without_summary: u64,
    /// Stories the rule matched, copies of one story included.
    pub matched: u64,
    /// One per cluster, newest first, at most the limit asked for.
    pub alerts: Vec<BacktestAlert>,
    /// More clusters matched than the limit: the oldest are left out of `alerts`.
    pub truncated: bool,
    /// For each keyword of the rule, the stories it hit (a story counted once per keyword).
    pub keywords: Vec<KeywordCount>,
}

/// One alert the rule would have raised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestAlert {
    pub story_id: i64,
    pub cluster_id: i64,
    pub feed: String,
    /// The outlet's name, else the feed id.
    pub outlet: String,
    pub title: String,
    pub url: Option<String>,
    /// Published, else first seen.
    pub time: DateTime<Utc>,
    pub first_seen_at: DateTime<Utc>,
    pub hits: Vec<BacktestHit>,
    /// The outlets of the later copies the rule matched too.
    pub also_reported_by: Vec<String>,
}

/// One word the rule matched in a story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BacktestHit {
    /// The keyword as written in the rule.
    pub keyword: String,
    pub field: Field,
    /// The word as the story writes it (the keyword with its clitics).
    pub matched: String,
    /// A few words either side of it.
    pub snippet: String,
    /// Where `matched` lies in `snippet` (bytes).
    pub highlight: Range<usize>,
}

/// A keyword and the number of stories it hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeywordCount {
    pub keyword: String,
    pub stories: u64,
}

/// Runs `rule` over the stories first seen at or after `since`, newest first, and returns the
/// alerts it would have raised (at most `limit`, itself bounded by [`MAX_ALERTS`]).
///
/// ```no_run
/// # async fn example(store: &rasad::store::Store) -> Result<(), Box<dyn std::error::Error>> {
/// use rasad::backtest::{Rule, backtest};
/// use rasad::matcher::{KeywordSpec, TopicSpec};
/// let rule = Rule::new(TopicSpec {
///     id: None,
///     any: vec![KeywordSpec::plain("داعش")],
///     all: Vec::new(),
///     none: Vec::new(),
///     fields: rasad::model::Field::ALL.to_vec(),
/// })?;
/// let week_ago = chrono::Utc::now() - chrono::Duration::days(7);
/// let report = backtest(store, &rule, week_ago, 100).await?;
/// println!("{} alerts from {} stories", report.alerts.len(), report.stories);
/// # Ok(()) }
/// ```
pub async fn backtest(
    store: &Store,
    rule: &Rule,
    since: DateTime<Utc>,
    limit: usize,
) -> Result<BacktestReport, BacktestError> {
    let mut tally = Tally::new(rule, limit.min(MAX_ALERTS));
    let mut after = None;
    loop {
        let page = store.stories_since(since, after, PAGE_STORIES).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.cursor());
        let full = page.len() == PAGE_STORIES as usize;
        let matcher = Arc::clone(&rule.matcher);
        let matched = tokio::task::spawn_blocking(move || match_page(&matcher, page))
            .await
            .map_err(|e| BacktestError::Matching(e.to_string()))?;
        tally.add(matched);
        if !full {
            break;
        }
    }
    Ok(tally.report(since))
}

/// The stories of one page, each with the matcher's hits (none when the rule does not hold).
/// Snippets are cut later, for the stories kept as alerts only.
fn match_page(matcher: &Matcher, page: Vec<StoredStory>) -> Vec<(StoredStory, Vec<Hit>)> {
    page.into_iter()
        .map(|story| {
            let summary = story.summary.as_deref().unwrap_or_default();
            let fields = [
                (Field::Title, story.title.as_str()),
                (Field::Summary, summary),
            ];
            let hits = matcher.find_relevant(&fields);
            (story, hits)
        })
        .collect()
}

/// `hits` of `story` with the word each matched and its snippet, the word's place marked.
fn described_hits(story: &StoredStory, hits: Vec<Hit>) -> Vec<BacktestHit> {
    hits.into_iter()
        .map(|hit| {
            let text = match hit.field {
                Field::Title => story.title.as_str(),
                _ => story.summary.as_deref().unwrap_or_default(),
            };
            let around = snippet_range(text, &hit.token_span);
            BacktestHit {
                keyword: hit.keyword,
                field: hit.field,
                matched: text[hit.token_span.clone()].to_owned(),
                snippet: text[around.clone()].to_owned(),
                highlight: hit.token_span.start - around.start..hit.token_span.end - around.start,
            }
        })
        .collect()
}

/// The report being built, page by page.
struct Tally {
    limit: usize,
    stories: u64,
    without_summary: u64,
    matched: u64,
    alerts: Vec<BacktestAlert>,
    /// The place in `alerts` of each cluster shown; holds at most `limit` entries.
    shown: HashMap<i64, usize>,
    truncated: bool,
    keywords: Vec<KeywordCount>,
    /// Each keyword's place in `keywords`.
    keyword_index: HashMap<String, usize>,
}

impl Tally {
    fn new(rule: &Rule, limit: usize) -> Tally {
        let keywords = rule.counted_keywords();
        Tally {
            keyword_index: keywords
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), i))
                .collect(),
            limit,
            stories: 0,
            without_summary: 0,
            matched: 0,
            alerts: Vec::new(),
            shown: HashMap::new(),
            truncated: false,
            keywords: keywords
                .into_iter()
                .map(|keyword| KeywordCount {
                    keyword,
                    stories: 0,
                })
                .collect(),
        }
    }

    fn add(&mut self, page: Vec<(StoredStory, Vec<Hit>)>) {
        for (story, hits) in page {
            self.stories += 1;
            self.without_summary += u64::from(story.summary.is_none());
            if hits.is_empty() {
                continue;
            }
            self.matched += 1;
            self.count_keywords(&hits);
            self.add_alert(story, hits);
        }
    }

    /// Counts the story once for each keyword among `hits`.
    fn count_keywords(&mut self, hits: &[Hit]) {
        let mut counted: Vec<usize> = hits
            .iter()
            .filter_map(|h| self.keyword_index.get(&h.keyword).copied())
            .collect();
        counted.sort_unstable();
        counted.dedup();
        for i in counted {
            self.keywords[i].stories += 1;
        }
    }

    /// Stories come newest first: an older copy of a cluster already shown takes its place
    /// (the daemon alerts with the copy it saw first), and the newer one is named as also
    /// reporting it.
    fn add_alert(&mut self, story: StoredStory, hits: Vec<Hit>) {
        let known = self.shown.get(&story.cluster_id).copied();
        if known.is_none() && self.alerts.len() >= self.limit {
            self.truncated = true;
            return;
        }
        let hits = described_hits(&story, hits);
        let alert = BacktestAlert {
            story_id: story.id,
            cluster_id: story.cluster_id,
            outlet: story.outlet.unwrap_or_else(|| story.feed_id.clone()),
            feed: story.feed_id,
            title: story.title,
            url: story.url,
            time: story.published_at.unwrap_or(story.first_seen_at),
            first_seen_at: story.first_seen_at,
            hits,
            also_reported_by: Vec::new(),
        };
        if let Some(at) = known {
            let newer = std::mem::replace(&mut self.alerts[at], alert);
            let shown = &mut self.alerts[at];
            shown.also_reported_by = newer.also_reported_by;
            if !shown.also_reported_by.contains(&newer.outlet) && newer.outlet != shown.outlet {
                shown.also_reported_by.insert(0, newer.outlet);
            }
        } else {
            self.shown.insert(alert.cluster_id, self.alerts.len());
            self.alerts.push(alert);
        }
    }

    fn report(mut self, since: DateTime<Utc>) -> BacktestReport {
        // Newest first by the copy shown (an older copy may have replaced a newer one).
        self.alerts
            .sort_by_key(|a| std::cmp::Reverse((a.first_seen_at, a.story_id)));
        BacktestReport {
            since,
            stories: self.stories,
            without_summary: self.without_summary,
            matched: self.matched,
            alerts: self.alerts,
            truncated: self.truncated,
            keywords: self.keywords,
        }
    }
}

#[cfg(test)]
mod tests;
