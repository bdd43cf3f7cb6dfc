//! The widgets upstream: its client (built once per process, connections reused), the filters
//! of `GET /widgets`, and the reshaping of what the upstream returns.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::WidgetsConfig;
use crate::error::ApiError;

/// The largest upstream body read; a larger one is an upstream error.
pub const MAX_UPSTREAM_BYTES: usize = 4 * 1024 * 1024;

/// Parses an ISO 8601 date-time with an offset written `+0200`, `+02:00` or `Z` (fractions of a
/// second allowed).
pub fn parse_instant(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
}

/// `foo-bar` gives `Foo Bar`: split on `-`, empty words dropped, the first letter of each word
/// upper-cased and the rest kept as written.
pub fn type_label(kind: &str) -> String {
    kind.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One widget as the upstream writes it. Anything else in an item is ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamWidget {
    pub id: Value,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: String,
}

/// One widget as `/widgets` answers it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Widget {
    /// As the upstream wrote it (a string or a number).
    #[schema(value_type = Value)]
    pub id: Value,
    #[serde(rename = "type")]
    pub kind: String,
    pub type_label: String,
    /// As the upstream wrote it.
    pub created: String,
}

/// `GET /widgets`: the caller's widgets that match the filters.
#[derive(Debug, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Widgets)]
pub struct WidgetsAnswer {
    /// How many widgets the upstream returned, before filtering (the name is the original API's).
    pub total_widgets_own_by_user: usize,
    pub matching_items: Vec<Widget>,
}

/// The client's filters, all optional, combined; date bounds inclusive.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub kind: Option<String>,
    pub created_start: Option<DateTime<FixedOffset>>,
    pub created_end: Option<DateTime<FixedOffset>>,
}

/// The query of `GET /widgets`, as sent.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WidgetsQuery {
    #[serde(rename = "type")]
    /// Only widgets of this type.
    pub kind: Option<String>,
    /// ISO 8601 with an offset (+0200, +02:00 or Z), inclusive.
    #[param(value_type = Option<String>, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})$")]
    pub created_start: Option<String>,
    /// ISO 8601 with an offset (+0200, +02:00 or Z), inclusive.
    #[param(value_type = Option<String>, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})$")]
    pub created_end: Option<String>,
}

impl Filter {
    pub fn from_query(q: WidgetsQuery) -> Result<Filter, ApiError> {
        let date = |name: &str, v: Option<String>| -> Result<_, ApiError> {
            match v {
                None => Ok(None),
                // An unencoded `+` in a query string arrives as a space; a space is never valid
                // in these dates, so it can only have been the offset's sign.
                Some(s) => parse_instant(&s.replace(' ', "+")).map(Some).ok_or_else(|| {
                    ApiError::InvalidQuery(format!(
                        "{name} must be an ISO 8601 date-time with an offset, like 2019-01-04T16:41:24+0200"
                    ))
                }),
            }
        };
        Ok(Filter {
            created_start: date("created_start", q.created_start)?,
            created_end: date("created_end", q.created_end)?,
            kind: q.kind,
        })
    }

    /// Keeps what matches, reshaped; a widget whose `created` does not parse is an upstream error.
    pub fn apply(&self, widgets: Vec<UpstreamWidget>) -> Result<WidgetsAnswer, ApiError> {
        let total = widgets.len();
        let mut matching = Vec::new();
        for w in widgets {
            let created = parse_instant(&w.created).ok_or_else(|| {
                ApiError::UpstreamError("a widget's `created` is not a date-time".into())
            })?;
            let keep = self.kind.as_ref().is_none_or(|k| *k == w.kind)
                && self.created_start.is_none_or(|start| created >= start)
                && self.created_end.is_none_or(|end| created <= end);
            if keep {
                matching.push(Widget {
                    type_label: type_label(&w.kind),
                    id: w.id,
                    kind: w.kind,
                    created: w.created,
                });
            }
        }
        Ok(WidgetsAnswer {
            total_widgets_own_by_user: total,
            matching_items: matching,
        })
    }
}

/// The upstream client. Built once per process: its connection pool is reused across requests
/// (and across Lambda invocations).
pub struct WidgetsUpstream {
    client: reqwest::Client,
    url: String,
    api_key: String,
}

impl WidgetsUpstream {
    pub fn new(config: &WidgetsConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // The apiKey never follows a redirect anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(WidgetsUpstream {
            client,
            url: format!("{}/widgets", config.url),
            api_key: config.api_key.clone(),
        })
    }

    /// `GET {WIDGETS_API_URL}/widgets?user_id=...` with `Authorization: apiKey ...`. The
    /// upstream's own words never reach the client: every failure is 502 or 504.
    pub async fn widgets_of(&self, user_id: &str) -> Result<Vec<UpstreamWidget>, ApiError> {
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                ApiError::UpstreamTimeout
            } else {
                ApiError::UpstreamError(format!("request failed: {e}"))
            }
        };
        let mut resp = self
            .client
            .get(&self.url)
            .query(&[("user_id", user_id)])
            .header(
                reqwest::header::AUTHORIZATION,
                format!("apiKey {}", self.api_key),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(failed)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(ApiError::UpstreamError(format!("status {status}")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > MAX_UPSTREAM_BYTES {
                return Err(ApiError::UpstreamError("body too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice::<Vec<UpstreamWidget>>(&body)
            .map_err(|e| ApiError::UpstreamError(format!("body is not a widget list: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_in_every_accepted_form_and_compare_across_offsets() {
        let a = parse_instant("2019-01-04T16:41:24+0200").unwrap();
        let b = parse_instant("2019-01-04T16:41:24+02:00").unwrap();
        let c = parse_instant("2019-01-04T14:41:24Z").unwrap();
        let d = parse_instant("2019-01-04T09:41:24.000-0500").unwrap();
        assert!(a == b && b == c && c == d);
        for bad in [
            "2019-01-04",
            "2019-01-04T16:41:24",
            "yesterday",
            "",
            "2019-13-04T16:41:24Z",
        ] {
            assert!(parse_instant(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn type_labels() {
        assert_eq!(type_label("floogle"), "Floogle");
        assert_eq!(type_label("foo-bar"), "Foo Bar");
        assert_eq!(type_label("a-b-c-d"), "A B C D");
        assert_eq!(type_label(""), "");
        assert_eq!(type_label("-x--y-"), "X Y");
        assert_eq!(type_label("mIxEd-CASE"), "MIxEd CASE");
        assert_eq!(type_label("über-ñu"), "Über Ñu");
    }
}
