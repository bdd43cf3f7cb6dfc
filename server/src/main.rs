//! `accounts`: the local server and the operator's commands.
//!
//! ```text
//! accounts [serve]                 serve every route on 127.0.0.1:$PORT (default 3000)
//! accounts make-admin <username>   make that user an admin (from its next login)
//! ```

use std::process::ExitCode;

use shared::AppState;
use shared::clock::Clock;
use shared::user::Role;

const USAGE: &str = "usage: accounts [serve] | accounts make-admin <username>";

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init(std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (config, port) = match accounts::local_config(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let state = match AppState::embedded(&config, Clock::system()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("start-up: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => serve(state, port).await,
        ["make-admin", username] => make_admin(state, username).await,
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

async fn serve(state: AppState, port: u16) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("accounts listening on http://127.0.0.1:{port}");
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
    };
    match axum::serve(listener, accounts::app(state))
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn make_admin(state: AppState, username: &str) -> ExitCode {
    match state
        .store
        .set_role(username, Role::Admin, state.clock.now())
        .await
    {
        Ok(Some(user)) => {
            println!(
                "{} is now an admin; the role applies from their next login.",
                user.username
            );
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("no user named {username}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("store: {e}");
            ExitCode::FAILURE
        }
    }
}
