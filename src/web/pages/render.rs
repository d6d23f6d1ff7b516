//! The pages' templates, embedded in the binary and compiled once, and their rendering into
//! an HTML answer. Every `.html` template is auto-escaped: a feed's title or a keyword is text,
//! never markup.

use std::sync::OnceLock;

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

/// Every page template: `(name, source)`.
const TEMPLATES: [(&str, &str); 7] = [
    ("base.html", include_str!("../templates/base.html")),
    ("alerts.html", include_str!("../templates/alerts.html")),
    ("story.html", include_str!("../templates/story.html")),
    ("feeds.html", include_str!("../templates/feeds.html")),
    ("outbox.html", include_str!("../templates/outbox.html")),
    ("topics.html", include_str!("../templates/topics.html")),
    ("error.html", include_str!("../templates/error.html")),
];

/// The style sheet and the script, served under `/static/` (the CSP allows no inline ones).
pub(super) const STYLESHEET: &str = include_str!("../static/desk.css");
pub(super) const SCRIPT: &str = include_str!("../static/desk.js");

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .expect("the embedded page templates compile (a unit test renders each)");
        }
        env
    })
}

/// The page `name` rendered with `context`; a template error is logged and answered 500.
pub(super) fn page(name: &str, context: impl Serialize) -> Response {
    page_with_status(StatusCode::OK, name, context)
}

pub(super) fn page_with_status(
    status: StatusCode,
    name: &str,
    context: impl Serialize,
) -> Response {
    match render(name, context) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "a desk page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered\n",
            )
                .into_response()
        }
    }
}

fn render(name: &str, context: impl Serialize) -> Result<String, minijinja::Error> {
    environment()
        .get_template(name)?
        .render(minijinja::value::Serde(&context))
}

/// An embedded static file with its content type; a browser may keep it for an hour.
pub(super) fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each template compiles and renders with an empty context (nothing but the layout).
    #[test]
    fn every_template_renders_without_data() {
        for (name, _) in TEMPLATES {
            let html =
                render(name, serde_json::json!({})).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"), "{name}");
            assert!(!html.contains("<script>"), "{name}: an inline script");
            assert!(!html.contains("style="), "{name}: an inline style");
        }
    }

    /// A feed's title is text: markup in it is escaped, on every page that shows one.
    #[test]
    fn titles_are_escaped() {
        let html = render(
            "story.html",
            serde_json::json!({
                "signed_in": true, "csrf": "c", "page": "story",
                "story": {"id": 1, "title": "<script>alert(1)</script>", "outlet": "o"},
                "cluster": [],
            }),
        )
        .expect("renders");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;"), "{html}");
    }

    /// Signed in, the page carries the CSRF token for scripts and the navigation; signed out, neither.
    #[test]
    fn the_csrf_meta_tag_and_navigation_only_when_signed_in() {
        let signed_in = render(
            "feeds.html",
            serde_json::json!({"signed_in": true, "csrf": "tok123", "page": "feeds", "feeds": []}),
        )
        .expect("renders");
        assert!(signed_in.contains(r#"<meta name="csrf-token" content="tok123">"#));
        assert!(signed_in.contains(r#"<a href="/feeds" aria-current="page">"#));
        let signed_out =
            render("error.html", serde_json::json!({"heading": "x"})).expect("renders");
        assert!(!signed_out.contains("csrf-token"));
        assert!(!signed_out.contains("<nav"));
    }
}
