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
