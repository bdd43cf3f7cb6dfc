//! The look the pages and the HTML mails share: below both, so that neither imports the other.
//! (Both are maud templates, which escape every text they are given.)

/// The look the pages and the HTML mails share. Contrast against the background: text 16:1,
/// muted text 9:1, the accent (links, buttons with white text, focus) 6:1; WCAG AA asks 4.5:1.
pub const TEXT: &str = "#1a1a1a";
pub const MUTED: &str = "#444444";
pub const ACCENT: &str = "#0b57d0";
pub const ERROR: &str = "#b00020";
pub const BACKGROUND: &str = "#fafafa";
pub const FONT_STACK: &str =
    "system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif";

/// The start every page and HTML mail shares: the doctype, then the `<head>` with its encoding,
/// its viewport and `title`, and `extra` (a page's style sheet; nothing for a mail).
pub fn document(title: &str, extra: maud::Markup, body: maud::Markup) -> maud::Markup {
    maud::html! {
        (maud::PreEscaped("<!doctype html>"))
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                (extra)
            }
            (body)
        }
    }
}
