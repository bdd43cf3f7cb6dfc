//! The widgets passthrough: the caller's widgets from the upstream, filtered and reshaped.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::widgets::{Filter, WidgetsAnswer, WidgetsQuery};

/// `GET /widgets`, for a token with the `widgets` scope: the scope is checked before the query
/// (`query`, as the route could read it), so that a token without it learns nothing more.
pub async fn widgets(
    state: &AppState,
    auth: &Auth,
    query: ApiResult<WidgetsQuery>,
) -> ApiResult<WidgetsAnswer> {
    auth.require_scope("widgets")?;
    let filter = Filter::from_query(query?)?;
    let upstream = state.widgets.as_ref().ok_or(ApiError::WidgetsUnavailable)?;
    let answer = match upstream.widgets_of(&auth.user.user_id).await {
        Ok(items) => filter.apply(items),
        Err(e) => Err(e),
    };
    if let Err(ApiError::UpstreamError(_) | ApiError::UpstreamTimeout) = &answer {
        state
            .metrics
            .count(crate::metrics::Metric::WidgetsUpstreamErrors);
    }
    answer
}
