//! Who may use the desk: the `[web]` token as `Authorization: Bearer`, compared in constant
//! time, or a session cookie from the login form, with a CSRF token for every change made
//! through it. Sessions live in memory, bounded in number and in time; a restart logs every
//! browser out, which the token's holder can undo in a second.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::WebState;
use super::api::ApiError;

/// The cookie that holds a browser's session id.
pub const SESSION_COOKIE: &str = "rasad_session";
/// The cookie that pairs a login form with the browser it was served to (its CSRF token).
const LOGIN_COOKIE: &str = "rasad_login";
/// How long a login form may stay open before it must be reloaded.
const LOGIN_FORM_LIFETIME: Duration = Duration::from_secs(3600);
/// The most sessions kept: logins beyond it push out the one closest to expiry, so that a
/// flood of logins (each needs the token) cannot grow memory.
pub const MAX_SESSIONS: usize = 1_000;
/// The longest `next=` a login goes back to: a page of the desk with its query, not a place
/// to reflect a large input from (a longer one goes to `/`).
pub const MAX_NEXT_BYTES: usize = 2048;
/// The header a session's POST, PUT and DELETE to the API carry, with the page's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The token's digest and the live sessions.
pub(crate) struct Auth {
    /// SHA-256 of the token: compared with the digest of what a request offers, so that the
    /// comparison takes as long for every guess of any length.
    token: [u8; 32],
    secure_cookie: bool,
    lifetime: Duration,
    sessions: Mutex<HashMap<String, Session>>,
}

#[derive(Clone)]
struct Session {
    csrf: String,
    expires: Instant,
}

impl Auth {
    pub fn new(web: &crate::config::Web) -> Auth {
        Auth {
            token: Sha256::digest(web.token.expose().as_bytes()).into(),
            secure_cookie: web.secure_cookie,
            lifetime: web.session,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `offered` is the token, in time that does not depend on where they differ.
    pub fn token_matches(&self, offered: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(offered.as_bytes()).into();
        digest.ct_eq(&self.token).into()
    }

    /// Opens a session: its id (for the cookie) and its CSRF token.
    fn start_session(&self) -> (String, String) {
        let (id, csrf) = (random_token(), random_token());
        let now = Instant::now();
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(id, _)| id.clone())
        {
            sessions.remove(&oldest);
        }
        let session = Session {
            csrf: csrf.clone(),
            expires: now + self.lifetime,
        };
        sessions.insert(id.clone(), session);
        (id, csrf)
    }

    /// The live session `id` names, if any.
    fn session(&self, id: &str) -> Option<Session> {
        let mut sessions = self.lock();
        match sessions.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    fn end_session(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the map leaves it whole (each change is one call).
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `Set-Cookie` value of a session: HttpOnly (no script reads it), SameSite=Strict (no
    /// other site's page sends it), Secure behind TLS.
    fn session_cookie(&self, id: &str) -> String {
        cookie(
            SESSION_COOKIE,
            id,
            "/",
            self.lifetime.as_secs(),
            self.secure_cookie,
        )
    }
}

/// A `Set-Cookie` value with the desk's flags.
fn cookie(name: &str, value: &str, path: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// 256 bits from the system's random source, as hex.
fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b): ([u8; 32], [u8; 32]) = (
        Sha256::digest(a.as_bytes()).into(),
        Sha256::digest(b.as_bytes()).into(),
    );
    a.ct_eq(&b).into()
}

/// The value of the cookie `name` in the request's `Cookie` headers.
fn request_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The token of an `Authorization: Bearer` header, if the request has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Lets an API request through with the token, or with a session cookie (and, for a change,
/// the session's CSRF token in `X-CSRF-Token`); answers 401 or 403 otherwise, and 400 to a
/// query string past `api::MAX_QUERY_BYTES`.
pub(crate) async fn require_api_access(
    State(state): State<WebState>,
    request: Request,
    next: Next,
) -> Response {
    let access = api_access(&state.auth, request.headers(), request.method())
        .and_then(|()| super::api::query_within_bounds(request.uri().query()));
    match access {
        Ok(()) => next.run(request).await,
        Err(refusal) if refusal.status == StatusCode::UNAUTHORIZED => {
            let mut response = refusal.into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rasad\""),
            );
            response
        }
        Err(refusal) => refusal.into_response(),
    }
}

fn api_access(auth: &Auth, headers: &HeaderMap, method: &Method) -> Result<(), ApiError> {
    if let Some(offered) = bearer(headers) {
        return if auth.token_matches(offered) {
            Ok(())
        } else {
            Err(unauthorized("the bearer token is wrong"))
        };
    }
    let Some(session) = request_cookie(headers, SESSION_COOKIE).and_then(|id| auth.session(id))
    else {
        return Err(unauthorized(
            "needs the header Authorization: Bearer <token of [web]>, or a session from /login",
        ));
    };
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    match headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        Some(offered) if same_secret(offered, &session.csrf) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a change made with a session cookie needs its page's CSRF token in X-CSRF-Token",
        )),
    }
}

/// 401: answered with the challenge that names the scheme (`require_api_access`).
fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, message)
}

/// A page request's session: `csrf` goes in every form (`<input type="hidden" name="csrf">`)
/// and in the `X-CSRF-Token` header of the page's own API calls. A request without a live
/// session is sent to `/login?next=PATH` (303).
pub(crate) struct PageSession {
    pub csrf: String,
    id: String,
}

impl FromRequestParts<WebState> for PageSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        page_session(&state.auth, &parts.headers, &parts.uri)
    }
}

/// The live session of a page request, or the redirect to the login form that comes back to
/// the page (its path and query, percent-encoded in `next`).
#[allow(clippy::result_large_err)]
fn page_session(
    auth: &Auth,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Result<PageSession, Response> {
    let found = request_cookie(headers, SESSION_COOKIE)
        .and_then(|id| Some((id.to_owned(), auth.session(id)?)));
    match found {
        Some((id, session)) => Ok(PageSession {
            csrf: session.csrf,
            id,
        }),
        None => {
            let here = uri.path_and_query().map_or("/", |p| p.as_str());
            let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
            Err(Redirect::to(&format!("/login?next={next}")).into_response())
        }
    }
}

/// Refuses a page's form POST whose `csrf` field is not its session's token (403).
#[allow(clippy::result_large_err)]
pub(crate) fn check_form_csrf(session: &PageSession, offered: &str) -> Result<(), Response> {
    if same_secret(offered, &session.csrf) {
        Ok(())
    } else {
        Err((
            StatusCode::FORBIDDEN,
            "this form is out of date or was not sent by the desk: reload the page and try again\n",
        )
            .into_response())
    }
}

/// The fields of a form body (`application/x-www-form-urlencoded`); a field given twice
/// keeps its first value.
pub(crate) fn form_fields(body: &[u8]) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        fields.entry(key.into_owned()).or_insert(value.into_owned());
    }
    fields
}

/// `GET /login`, `POST /login` and `POST /logout`.
pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/login", get(login_form).post(log_in))
        .route("/logout", post(log_out))
}

/// Where a login may send the browser: a path of the desk itself, never another site
/// (`//host` and `/\host` are other sites to a browser). Only visible ASCII passes: a browser
/// drops tabs and line breaks from a URL (`/<TAB>/host` is `//host` to it), a line break has
/// no place in a `Location` header, and the desk's own links are percent-encoded.
fn local_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.len() <= MAX_NEXT_BYTES
                && n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

async fn login_form(state: State<WebState>, RawQuery(query): RawQuery) -> Response {
    let query = form_fields(query.unwrap_or_default().as_bytes());
    let next = local_next(query.get("next").map(String::as_str));
    login_page(&state.auth, StatusCode::OK, &next, None)
}

/// The login form with a fresh CSRF token, paired to the browser by a short-lived cookie.
fn login_page(auth: &Auth, status: StatusCode, next: &str, message: Option<&str>) -> Response {
    let csrf = random_token();
    let body = render_login(&csrf, next, message);
    let pairing = cookie(
        LOGIN_COOKIE,
        &csrf,
        "/login",
        LOGIN_FORM_LIFETIME.as_secs(),
        auth.secure_cookie,
    );
    (status, [(header::SET_COOKIE, pairing)], Html(body)).into_response()
}

fn render_login(csrf: &str, next: &str, message: Option<&str>) -> String {
    static TEMPLATES: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    let templates = TEMPLATES.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.add_template("login.html", include_str!("templates/login.html"))
            .expect("the login template parses");
        env
    });
    templates
        .get_template("login.html")
        .and_then(|t| t.render(minijinja::context! { csrf, next, message }))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "the login page did not render");
            "the login page did not render; see the log".to_owned()
        })
}

async fn log_in(state: State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = form_fields(&body);
    let next = local_next(form.get("next").map(String::as_str));
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let paired = request_cookie(&headers, LOGIN_COOKIE)
        .is_some_and(|expected| same_secret(field("csrf"), expected));
    if !paired {
        let message = "the login form had expired: enter the token again";
        return login_page(&state.auth, StatusCode::FORBIDDEN, &next, Some(message));
    }
    if !state.auth.token_matches(field("token")) {
        tracing::warn!("desk: a login with a wrong token");
        return login_page(
            &state.auth,
            StatusCode::UNAUTHORIZED,
            &next,
            Some("wrong token"),
        );
    }
    // A new id at every login, and the browser's old one ended: a session id that leaked
    // before the login is worth nothing after it.
    if let Some(old) = request_cookie(&headers, SESSION_COOKIE) {
        state.auth.end_session(old);
    }
    let (id, _) = state.auth.start_session();
    let cleared = cookie(LOGIN_COOKIE, "", "/login", 0, state.auth.secure_cookie);
    let mut response = Redirect::to(&next).into_response();
    let headers = response.headers_mut();
    for value in [state.auth.session_cookie(&id), cleared] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

async fn log_out(state: State<WebState>, session: PageSession, body: Bytes) -> Response {
    let form = form_fields(&body);
    if let Err(refusal) = check_form_csrf(&session, form.get("csrf").map_or("", String::as_str)) {
        return refusal;
    }
    state.auth.end_session(&session.id);
    let cleared = cookie(SESSION_COOKIE, "", "/", 0, state.auth.secure_cookie);
    ([(header::SET_COOKIE, cleared)], Redirect::to("/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(lifetime: Duration) -> Auth {
        Auth::new(&crate::config::Web {
            token: crate::config::Secret::new("0123456789abcdef-token"),
            secure_cookie: true,
            session: lifetime,
        })
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                name.clone(),
                HeaderValue::from_str(value).expect("a header"),
            );
        }
        map
    }

    #[test]
    fn api_access_needs_the_token_or_a_session_with_its_csrf_token() {
        let auth = auth(Duration::from_secs(60));
        let (id, csrf) = auth.start_session();
        let session = format!("other=1; {SESSION_COOKIE}={id}");
        let csrf_header = header::HeaderName::from_static(CSRF_HEADER);
        let cases = [
            ("no_credentials", Method::GET, vec![], 401),
            (
                "right_token",
                Method::POST,
                vec![(header::AUTHORIZATION, "Bearer 0123456789abcdef-token")],
                200,
            ),
            (
                "scheme_in_lower_case",
                Method::GET,
                vec![(header::AUTHORIZATION, "bearer 0123456789abcdef-token")],
                200,
            ),
            (
                "wrong_token",
                Method::GET,
                vec![(header::AUTHORIZATION, "Bearer 0123456789abcdef-tokeN")],
                401,
            ),
            (
                "token_prefix",
                Method::GET,
                vec![(header::AUTHORIZATION, "Bearer 0123456789abcdef")],
                401,
            ),
            (
                "basic_scheme",
                Method::GET,
                vec![(header::AUTHORIZATION, "Basic 0123456789abcdef-token")],
                401,
            ),
            (
                "session_reads",
                Method::GET,
                vec![(header::COOKIE, session.as_str())],
                200,
            ),
            (
                "session_changes_without_csrf",
                Method::POST,
                vec![(header::COOKIE, session.as_str())],
                403,
            ),
            (
                "session_changes_with_a_wrong_csrf",
                Method::DELETE,
                vec![
                    (header::COOKIE, session.as_str()),
                    (csrf_header.clone(), "nope"),
                ],
                403,
            ),
            (
                "session_changes_with_its_csrf",
                Method::PUT,
                vec![
                    (header::COOKIE, session.as_str()),
                    (csrf_header.clone(), csrf.as_str()),
                ],
                200,
            ),
            (
                "unknown_session",
                Method::GET,
                vec![(header::COOKIE, "rasad_session=feedface")],
                401,
            ),
        ];
        for (name, method, pairs, want) in cases {
            let got = match api_access(&auth, &headers(&pairs), &method) {
                Ok(()) => 200,
                Err(refusal) => refusal.status.as_u16(),
            };
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn a_session_ends_at_its_expiry_or_on_logout() {
        let short = auth(Duration::from_millis(1));
        let (id, _) = short.start_session();
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.session(&id).is_none(), "expired");
        let long = auth(Duration::from_secs(60));
        let (id, _) = long.start_session();
        assert!(long.session(&id).is_some());
        long.end_session(&id);
        assert!(long.session(&id).is_none(), "logged out");
    }

    #[test]
    fn sessions_are_bounded_in_number() {
        let auth = auth(Duration::from_secs(60));
        let (first, _) = auth.start_session();
        for _ in 0..MAX_SESSIONS {
            auth.start_session();
        }
        assert_eq!(auth.lock().len(), MAX_SESSIONS);
        assert!(auth.session(&first).is_none(), "the oldest made room");
    }

    #[test]
    fn the_session_cookie_is_http_only_strict_and_secure_when_asked() {
        let cookie = auth(Duration::from_secs(60)).session_cookie("abc");
        assert_eq!(
            cookie,
            "rasad_session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
    }

    #[test]
    fn a_page_without_a_live_session_redirects_to_the_login_form_and_back() {
        let auth = auth(Duration::from_secs(60));
        let (id, csrf) = auth.start_session();
        let uri: axum::http::Uri = "/topics?q=%D8%A7".parse().expect("a URI");
        let with = headers(&[(header::COOKIE, &format!("{SESSION_COOKIE}={id}"))]);
        let session = page_session(&auth, &with, &uri).map_err(|r| r.status());
        assert_eq!(session.map(|s| s.csrf), Ok(csrf));
        for (name, cookies) in [
            ("no_cookie", vec![]),
            ("stale_cookie", vec![(header::COOKIE, "rasad_session=0ld")]),
        ] {
            let refusal = page_session(&auth, &headers(&cookies), &uri)
                .err()
                .expect(name);
            assert_eq!(refusal.status(), StatusCode::SEE_OTHER, "{name}");
            assert_eq!(
                refusal
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok()),
                Some("/login?next=%2Ftopics%3Fq%3D%25D8%25A7"),
                "{name}"
            );
        }
    }

    #[test]
    fn a_form_post_needs_its_sessions_csrf_token() {
        let session = PageSession {
            csrf: "c0ffee".into(),
            id: "id".into(),
        };
        assert!(check_form_csrf(&session, "c0ffee").is_ok());
        for wrong in ["", "c0ffeE", "c0ffee0"] {
            let refusal = check_form_csrf(&session, wrong).expect_err(wrong);
            assert_eq!(refusal.status(), StatusCode::FORBIDDEN, "{wrong:?}");
        }
    }

    #[test]
    fn a_login_sends_the_browser_only_to_a_path_of_the_desk() {
        let at_the_bound = format!("/{}", "x".repeat(MAX_NEXT_BYTES - 1));
        let too_long = format!("{at_the_bound}x");
        let cases = [
            ("path", Some("/topics?x=1"), "/topics?x=1"),
            ("none", None, "/"),
            ("other_site", Some("https://evil.example/"), "/"),
            ("scheme_relative", Some("//evil.example/"), "/"),
            ("backslash", Some("/\\evil.example/"), "/"),
            ("tab_then_slash", Some("/\t/evil.example/"), "/"),
            ("newline_then_slash", Some("/\n/evil.example/"), "/"),
            ("header_injection", Some("/\r\nSet-Cookie: x=1"), "/"),
            ("space", Some("/ /evil.example/"), "/"),
            ("raw_arabic", Some("/\u{627}"), "/"),
            (
                "percent_encoded",
                Some("/topics?q=%D8%A7"),
                "/topics?q=%D8%A7",
            ),
            ("too_long", Some(too_long.as_str()), "/"),
            (
                "at_the_bound",
                Some(at_the_bound.as_str()),
                at_the_bound.as_str(),
            ),
        ];
        for (name, next, want) in cases {
            assert_eq!(local_next(next), want, "{name}");
        }
    }

    /// What a browser posts: `next` percent-encoded in the form body, decoded by the desk.
    #[test]
    fn a_login_never_sends_the_browser_off_the_desk_through_an_encoded_next() {
        for encoded in [
            "%2F%2Fevil.example",
            "%2F%09%2Fevil.example",
            "/%0A/evil.example",
            "/%0D%0ALocation:%20//evil.example",
            "%2F%5Cevil.example",
        ] {
            let form = form_fields(format!("next={encoded}").as_bytes());
            let next = local_next(form.get("next").map(String::as_str));
            assert_eq!(next, "/", "{encoded}");
        }
    }

    #[test]
    fn the_login_page_escapes_what_it_shows() {
        let page = render_login("c0ffee", "/\"><script>x</script>", Some("<b>"));
        assert!(!page.contains("<script>x"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(page.contains("name=\"csrf\" value=\"c0ffee\""), "{page}");
    }
}
