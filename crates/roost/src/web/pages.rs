//! The HTML pages, rendered with askama (which escapes every value: checklist A16).

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const CSS: &str = include_str!("../../static/roost.css");
pub const CSS_PATH: &str = "/static/roost.css";

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub css_href: &'a str,
    pub action: &'a str,
    pub app_name: &'a str,
    pub project_name: &'a str,
    pub csrf_token: &'a str,
    pub request: &'a str,
    pub username: &'a str,
    pub message: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub css_href: &'a str,
    pub action: &'a str,
    pub app_name: &'a str,
    pub project_name: &'a str,
    pub user_name: &'a str,
    pub username: &'a str,
    pub scopes: Vec<(&'static str, &'static str)>,
    pub redirect_host: &'a str,
    pub csrf_token: &'a str,
    pub request: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub css_href: &'a str,
    pub title: &'a str,
    pub detail: &'a str,
    pub hint: Option<&'a str>,
}

/// The headers every HTML page carries (checklist A10, I1). No `form-action`: Chromium applies
/// it to the redirect after the consent form, which would block the hop to the callback.
pub fn with_page_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => with_page_headers(
            (
                status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                )],
                body,
            )
                .into_response(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            with_page_headers(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

impl ErrorPage<'_> {
    /// The detail in parts, `true` for the values it quotes between backticks (a callback URL,
    /// a client_id): the page sets those as code instead of showing a person the backticks.
    fn detail_parts(&self) -> Vec<(bool, &str)> {
        self.detail
            .split('`')
            .enumerate()
            .filter(|(_, part)| !part.is_empty())
            .map(|(i, part)| (i % 2 == 1, part))
            .collect()
    }
}

pub fn error_page(status: StatusCode, title: &str, detail: &str, hint: Option<&str>) -> Response {
    html(
        status,
        &ErrorPage {
            css_href: CSS_PATH,
            title,
            detail,
            hint,
        },
    )
}

/// The store failed or timed out (checklist K5): 503 with `Retry-After`, nothing changed.
pub fn unavailable_page() -> Response {
    let mut resp = error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "roost could not reach its database.",
        Some("Nothing was changed. Try again in a moment."),
    );
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(crate::oauth::error::RETRY_AFTER_UNAVAILABLE),
    );
    resp
}

pub async fn css() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        CSS,
    )
        .into_response()
}
