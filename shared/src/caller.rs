//! Who is calling: the source address and user agent of the request being served, as API
//! Gateway reports them (or the local server's peer). Request context, like a trace span:
//! [`caller_context`] (a layer of every router) sets it for the request's task, and whatever
//! needs it (account events, hooks) reads [`Caller::current`].

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;

use crate::account_event::MAX_USER_AGENT_CHARS;

/// Who is calling: the address and user agent of the request being served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

tokio::task_local! {
    static CALLER: Caller;
}

impl Caller {
    /// The caller of the request being served (none outside one).
    pub fn current() -> Caller {
        CALLER.try_with(Caller::clone).unwrap_or_default()
    }

    /// The caller of `req`: in Lambda, what API Gateway's request context says (its source
    /// address is the client's, not a header anyone can set); on the local server, the TCP
    /// peer. The user agent from the header, bounded.
    pub fn of<B>(req: &axum::http::Request<B>) -> Caller {
        use lambda_http::RequestExt;
        use lambda_http::request::RequestContext;
        let from_gateway = req.request_context_ref().map(|ctx| match ctx {
            RequestContext::ApiGatewayV2(c) => {
                (c.http.source_ip.clone(), c.http.user_agent.clone())
            }
            RequestContext::ApiGatewayV1(c) => {
                (c.identity.source_ip.clone(), c.identity.user_agent.clone())
            }
            #[allow(unreachable_patterns)]
            _ => (None, None),
        });
        let (ip, gateway_agent) = match from_gateway {
            Some(found) => found,
            None => (
                req.extensions()
                    .get::<ConnectInfo<std::net::SocketAddr>>()
                    .map(|ConnectInfo(peer)| peer.ip().to_string()),
                None,
            ),
        };
        let agent = gateway_agent.or_else(|| {
            req.headers()
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
        Caller {
            ip: ip.map(|ip| ip.chars().take(64).collect()),
            user_agent: agent.map(|a| a.chars().take(MAX_USER_AGENT_CHARS).collect()),
        }
    }
}

/// The layer that makes the request's [`Caller`] known to [`record`].
pub async fn caller_context(req: Request, next: Next) -> Response {
    let caller = Caller::of(&req);
    CALLER.scope(caller, next.run(req)).await
}

/// Runs `work` as if called by `caller` (the operator's commands, tests).
pub async fn with_caller<T>(caller: Caller, work: impl std::future::Future<Output = T>) -> T {
    CALLER.scope(caller, work).await
}
