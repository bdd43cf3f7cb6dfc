//! The service driven through real HTTP requests, on the embedded store.

mod activation;
mod cloud;
mod common;
mod drift;
mod lambda_events;
mod login;
mod process;
mod signup;
mod tokens;
mod users;
mod widgets;
