//! The HTML pages a person meets from a link in a mail (activation, password reset, address
//! confirmation): one shell, no script, no outside asset, and strict headers. Every text put in
//! a page is escaped here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Allows only what the pages use: their inline style, and forms posting to this service.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
font-size:1.05rem;line-height:1.5;color:#1a1a1a;background:#fafafa;margin:0}\
main{max-width:32rem;margin:2.5rem auto;padding:0 1.25rem}h1{font-size:1.5rem}\
label{display:block;font-weight:600;margin-top:1rem}\
input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem;\
border:1px solid #555;border-radius:4px}\
button{font:inherit;margin-top:1rem;padding:.5rem 1rem;border:0;border-radius:4px;\
background:#0b57d0;color:#fff;cursor:pointer}\
:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}.error{color:#b00020}";

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A page: `title` (escaped) as its title and heading, then `body_html` as it is.
pub fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let title = escape(title);
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\
         <body><main><h1>{title}</h1>{body_html}</main></body></html>"
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    // Pages are reached by links that hold a token: it must not travel on in a Referer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// A page that says one thing (`text`, escaped).
pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    page(status, title, &format!("<p>{}</p>", escape(text)))
}

/// The form behind a reset link: a new password, posted with the token to `POST
/// /password/reset` (relative, so it works under any base path). `error` is shown next to the
/// field when a first try was refused.
pub fn reset_form(status: StatusCode, token: &str, error: Option<&str>) -> Response {
    let (described, message) = match error {
        Some(e) => (
            " aria-describedby=\"password-error\" aria-invalid=\"true\"",
            format!(
                "<p id=\"password-error\" class=\"error\" role=\"alert\">{}</p>",
                escape(e)
            ),
        ),
        None => ("", String::new()),
    };
    let body = format!(
        "<p>At least 8 characters; not a common password, nor one built from your username or address.</p>\
         <form method=\"post\" action=\"reset\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\
         <label for=\"password\">New password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" \
         minlength=\"8\" maxlength=\"256\" required{described}>{message}\
         <button type=\"submit\">Set the new password</button></form>",
        escape(token)
    );
    page(status, "Choose a new password", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn pages_escape_and_carry_strict_headers() {
        let r = message_page(StatusCode::GONE, "<t>", "a&b");
        assert_eq!(r.status(), StatusCode::GONE);
        assert_eq!(
            r.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(r.headers()[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
        let html = text(r).await;
        assert!(html.contains("<title>&lt;t&gt;</title>"), "{html}");
        assert!(html.contains("<p>a&amp;b</p>"), "{html}");
        assert!(html.contains("width=device-width"), "{html}");

        let form = text(reset_form(StatusCode::OK, "x\"><b>", Some("too <weak>"))).await;
        assert!(form.contains("value=\"x&quot;&gt;&lt;b&gt;\""), "{form}");
        assert!(form.contains("too &lt;weak&gt;"), "{form}");
        assert!(form.contains("autocomplete=\"new-password\""), "{form}");
        assert!(!form.contains("<script"), "{form}");
    }
}
