//! The service driven through real HTTP requests, on the embedded store.

mod activation;
mod asvs;
mod cloud;
mod cloud_functions;
mod cloud_publisher;
mod common;
mod cors;
mod drift;
mod events;
mod fuzz;
mod hooks;
mod introspect;
mod lambda_events;
mod list_users;
mod login;
mod mfa;
mod pages;
mod process;
mod races;
mod recovery;
mod refresh;
mod signup;
mod token_cache;
mod tokens;
mod users;
mod widgets;
