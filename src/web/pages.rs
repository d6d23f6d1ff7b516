//! The desk's server-rendered pages, for a signed-in analyst: recent alerts (`/`), a story's
//! cluster (`/stories/{id}`), the feeds' health (`/feeds`), the outbox with a retry button
//! for dead deliveries (`/outbox`), and the topics with the "try it" box (`/topics`); plus
//! the one style sheet and script they load from `/static/`. Each handler reads the store
//! (bounded in time), turns what it read into cards (`views`) and renders a template
//! (`render`); the try-it box itself talks to the JSON API from the browser.

mod render;
mod views;

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::WebState;
use super::auth::{self, PageSession};
use crate::store::{AlertQuery, StoreError};
use views::{AlertCard, FeedCard, OutboxCard, StoryCard, TopicCard};

/// The longest a page waits for the store before it answers that the state is unreachable.
const STORE_WAIT: Duration = Duration::from_secs(5);
/// The alerts one page lists, newest first.
pub const PAGE_ALERTS: u32 = 100;
/// How far back the alerts page looks unless asked otherwise.
const DEFAULT_SINCE: &str = "7d";

/// The pages' routes. The static files are served without a session: the login form uses
/// the style sheet too, and neither file holds anything but code.
pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/", get(alerts_page))
        .route("/stories/{id}", get(story_page))
        .route("/feeds", get(feeds_page))
        .route("/outbox", get(outbox_page))
        .route("/outbox/{id}/retry", post(retry_delivery))
        .route("/topics", get(topics_page))
        .route(
            "/static/desk.css",
            get(|| async { render::asset("text/css; charset=utf-8", render::STYLESHEET) }),
        )
        .route(
            "/static/desk.js",
            get(|| async { render::asset("text/javascript; charset=utf-8", render::SCRIPT) }),
        )
}

/// What every page's layout needs: the session's CSRF token and which page is open.
#[derive(Serialize)]
struct Layout<T: Serialize> {
    signed_in: bool,
    csrf: String,
    page: &'static str,
    #[serde(flatten)]
    content: T,
}

fn layout<T: Serialize>(session: &PageSession, page: &'static str, content: T) -> Layout<T> {
    Layout {
        signed_in: true,
        csrf: session.csrf.clone(),
        page,
        content,
    }
}

/// A page saying what went wrong, with its status.
fn error_page(
    session: &PageSession,
    status: StatusCode,
    heading: &str,
    message: String,
) -> Response {
    #[derive(Serialize)]
    struct Failure<'a> {
        heading: &'a str,
        message: String,
    }
    render::page_with_status(
        status,
        "error.html",
        layout(session, "error", Failure { heading, message }),
    )
}

/// Runs one store read within [`STORE_WAIT`]; a failure becomes an error page (and a log line
/// with the store's own message, which the page does not repeat).
async fn read_store<T>(
    session: &PageSession,
    what: &'static str,
    read: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, Response> {
    let failure = |detail: String| {
        tracing::error!(read = what, error = %detail, "a desk page could not read the state");
        error_page(
            session,
            StatusCode::SERVICE_UNAVAILABLE,
            "تعذّرت قراءة الحالة",
            format!("the state could not be read ({what}); see the daemon's log"),
        )
    };
    match tokio::time::timeout(STORE_WAIT, read).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(failure(e.to_string())),
        Err(_) => Err(failure(format!("no answer within {STORE_WAIT:?}"))),
    }
}

/// The alerts page's filter: `?topic=ID&since=7d`.
#[derive(Deserialize)]
struct AlertFilter {
    topic: Option<String>,
    since: Option<String>,
}

async fn alerts_page(
    session: PageSession,
    State(state): State<WebState>,
    Query(filter): Query<AlertFilter>,
) -> Response {
    let since_text = filter
        .since
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SINCE.into());
    // The API's own reading of `since`, so that a link works the same on both.
    let since = match super::api::parse_since(&since_text, Utc::now()) {
        Ok(since) => since,
        Err(message) => {
            return error_page(&session, StatusCode::BAD_REQUEST, "مدة غير مفهومة", message);
        }
    };
    let query = AlertQuery {
        limit: PAGE_ALERTS,
        topic: filter.topic.clone().filter(|t| !t.is_empty()),
        since: Some(since),
    };
    let alerts =
        match read_store(&session, "recent alerts", state.store.recent_alerts(&query)).await {
            Ok(alerts) => alerts,
            Err(page) => return page,
        };
    let topics = match topic_cards(&session, &state).await {
        Ok(topics) => topics,
        Err(page) => return page,
    };
    #[derive(Serialize)]
    struct Alerts {
        alerts: Vec<AlertCard>,
        topics: Vec<TopicCard>,
        filter_topic: String,
        filter_since: String,
        since_choices: &'static [views::Choice],
    }
    let content = Alerts {
        alerts: alerts.iter().map(AlertCard::from).collect(),
        topics,
        filter_topic: query.topic.unwrap_or_default(),
        filter_since: since_text,
        since_choices: &views::SINCE_CHOICES,
    };
    render::page("alerts.html", layout(&session, "alerts", content))
}

async fn story_page(
    session: PageSession,
    State(state): State<WebState>,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error_page(
            &session,
            StatusCode::BAD_REQUEST,
            "لا قصة بهذا الرقم",
            format!("story id {id:?} is not a number"),
        );
    };
    let view = match read_store(&session, "story", state.store.story_view(id)).await {
        Ok(Some(view)) => view,
        Ok(None) => {
            return error_page(
                &session,
                StatusCode::NOT_FOUND,
                "لا قصة بهذا الرقم",
                format!("no story with id {id} (retention may have pruned it)"),
            );
        }
        Err(page) => return page,
    };
    #[derive(Serialize)]
    struct Story {
        story: StoryCard,
        cluster: Vec<StoryCard>,
    }
    let content = Story {
        story: StoryCard::from(&view.story),
        cluster: view.cluster.iter().map(StoryCard::from).collect(),
    };
    render::page("story.html", layout(&session, "story", content))
}

async fn feeds_page(session: PageSession, State(state): State<WebState>) -> Response {
    let known = match read_store(&session, "feed health", state.store.feed_health()).await {
        Ok(known) => known,
        Err(page) => return page,
    };
    let configured: Vec<(String, String)> = state
        .config()
        .feeds
        .iter()
        .map(|f| (f.id.clone(), f.url.to_string()))
        .collect();
    let rows = crate::source::health::rows(&configured, &known, Utc::now());
    let feeds: Vec<FeedCard> = rows.iter().map(FeedCard::from).collect();
    let count = |class: &str| {
        feeds
            .iter()
            .filter(|f| f.state_class.eq_ignore_ascii_case(class))
            .count()
    };
    #[derive(Serialize)]
    struct Feeds {
        ok: usize,
        failing: usize,
        never: usize,
        feeds: Vec<FeedCard>,
    }
    let content = Feeds {
        ok: count("ok"),
        failing: count("failing"),
        never: count("never"),
        feeds,
    };
    render::page("feeds.html", layout(&session, "feeds", content))
}

/// The outbox page's notice after a retry: `?retried=ID`.
#[derive(Deserialize)]
struct OutboxNotice {
    retried: Option<i64>,
}

async fn outbox_page(
    session: PageSession,
    State(state): State<WebState>,
    Query(notice): Query<OutboxNotice>,
) -> Response {
    let entries = match read_store(&session, "outbox", state.store.outbox_entries(Utc::now())).await
    {
        Ok(entries) => entries,
        Err(page) => return page,
    };
    #[derive(Serialize)]
    struct Outbox {
        entries: Vec<OutboxCard>,
        notice: Option<String>,
    }
    let content = Outbox {
        entries: entries.iter().map(OutboxCard::from).collect(),
        notice: notice
            .retried
            .map(|id| format!("أُعيدت الرسالة {id} إلى الطابور، وتُرسل في المحاولة التالية.")),
    };
    render::page("outbox.html", layout(&session, "outbox", content))
}

/// `POST /outbox/{id}/retry` (the form's `csrf` checked): puts the delivery back in the queue
/// (the outbox is woken to send it) and sends the browser back to the outbox, which says so.
async fn retry_delivery(
    session: PageSession,
    State(state): State<WebState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let fields = auth::form_fields(&body);
    if let Err(refused) =
        auth::check_form_csrf(&session, fields.get("csrf").map_or("", String::as_str))
    {
        return refused;
    }
    match read_store(&session, "requeue", state.retry_delivery(id)).await {
        Ok(true) => Redirect::to(&format!("/outbox?retried={id}")).into_response(),
        Ok(false) => error_page(
            &session,
            StatusCode::NOT_FOUND,
            "لا رسالة بهذا الرقم",
            format!("no undelivered delivery with id {id}"),
        ),
        Err(page) => page,
    }
}

async fn topics_page(session: PageSession, State(state): State<WebState>) -> Response {
    let topics = match topic_cards(&session, &state).await {
        Ok(topics) => topics,
        Err(page) => return page,
    };
    #[derive(Serialize)]
    struct Topics {
        topics: Vec<TopicCard>,
        channels: Vec<String>,
        field_choices: &'static [views::Choice],
        since_choices: &'static [views::Choice],
    }
    let content = Topics {
        topics,
        channels: state
            .config()
            .channels
            .iter()
            .map(|c| c.id.clone())
            .collect(),
        field_choices: &views::FIELD_CHOICES,
        since_choices: &views::SINCE_CHOICES,
    };
    render::page("topics.html", layout(&session, "topics", content))
}

/// The config's topics, then the ones saved on the desk (each checked against the running
/// config, as the daemon checks it before matching with it).
async fn topic_cards(session: &PageSession, state: &WebState) -> Result<Vec<TopicCard>, Response> {
    let config = state.config();
    let managed = read_store(session, "managed topics", state.store.managed_topics()).await?;
    let mut cards: Vec<TopicCard> = config
        .topics
        .iter()
        .map(|t| TopicCard::new(t, "config"))
        .collect();
    for saved in &managed {
        cards.push(
            match crate::config::check_managed_topic(&saved.rule, &config) {
                Ok(topic) => TopicCard::new(&topic, "managed"),
                Err(problems) => TopicCard::refused(&saved.id, problems),
            },
        );
    }
    Ok(cards)
}
