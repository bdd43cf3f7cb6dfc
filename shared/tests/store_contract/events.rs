//! Account events: recorded once, read newest first by account or across every account, kept
//! until their retention ends, past the account they are about.

use super::*;
use shared::events::{AccountEvent, Actor, EventType, Outcome, new_id};
use shared::store::EventQuery;

contract!(
    an_accounts_events_page_newest_first_and_outlive_it,
    every_accounts_events_page_across_days_and_shards_with_filters,
    events_past_their_retention_are_gone,
);

const MS: i64 = NOW * 1000;

fn event(kind: EventType, user_id: Option<&str>, at_ms: i64) -> AccountEvent {
    AccountEvent {
        id: new_id(at_ms),
        kind,
        at_ms,
        user_id: user_id.map(str::to_string),
        username: user_id.map(|u| format!("name-{u}")),
        actor: Actor::service(),
        source_ip: Some("203.0.113.7".into()),
        user_agent: Some("agent".into()),
        session_id: None,
        outcome: Outcome::Success,
        detail: json!({"n": at_ms}).as_object().unwrap().clone(),
    }
}

async fn record(store: &Arc<dyn UserStore>, e: &AccountEvent) {
    store.record_event(e, NOW + 90 * DAY).await.unwrap();
}

async fn user_pages(store: &Arc<dyn UserStore>, user_id: &str, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut before: Option<String> = None;
    for _ in 0..100 {
        let page = store
            .user_events(user_id, before.as_deref(), limit, NOW)
            .await
            .unwrap();
        assert!(page.events.len() <= limit);
        ids.extend(page.events.iter().map(|e| e.id.clone()));
        match page.next_before {
            Some(b) => before = Some(b),
            None => return ids,
        }
    }
    panic!("the pages never ended")
}

async fn all_pages(store: &Arc<dyn UserStore>, query: EventQuery) -> Vec<AccountEvent> {
    let mut events = Vec::new();
    let mut query = query;
    for _ in 0..100 {
        let page = store.all_events(&query, NOW).await.unwrap();
        assert!(page.events.len() <= query.limit);
        events.extend(page.events);
        match page.next_before {
            Some(b) => query.before = Some(b),
            None => return events,
        }
    }
    panic!("the pages never ended")
}

fn newest_first(events: &[AccountEvent]) -> Vec<String> {
    let mut ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    ids.reverse();
    ids
}

async fn an_accounts_events_page_newest_first_and_outlive_it(store: Arc<dyn UserStore>) {
    let u1 = activated(&store, "u1", "evan").await;
    activated(&store, "u2", "flor").await;
    let mut mine = Vec::new();
    for i in 0..7 {
        let e = event(EventType::LoggedIn, Some("u1"), MS + i * 1000);
        record(&store, &e).await;
        mine.push(e);
        record(
            &store,
            &event(EventType::LoggedIn, Some("u2"), MS + i * 1000),
        )
        .await;
    }
    record(&store, &event(EventType::LoginFailed, None, MS + 500)).await;
    let first = store.user_events("u1", None, 3, NOW).await.unwrap();
    assert_eq!(first.events.len(), 3);
    assert_eq!(first.events[0], mine[6], "whole, as recorded");
    for limit in [1, 3, 7, 100] {
        assert_eq!(user_pages(&store, "u1", limit).await, newest_first(&mine));
    }
    assert_eq!(user_pages(&store, "u2", 100).await.len(), 7);
    assert!(user_pages(&store, "nobody", 10).await.is_empty());
    // The account goes; its events stay.
    assert!(store.delete_user(&u1.user_id).await.unwrap());
    assert_eq!(user_pages(&store, "u1", 4).await, newest_first(&mine));
}

async fn every_accounts_events_page_across_days_and_shards_with_filters(store: Arc<dyn UserStore>) {
    let day_ms = DAY * 1000;
    let mut all = Vec::new();
    // 25 in one day (over every shard), and some on days 1, 5, 35 and 40 days before.
    for i in 0..25 {
        let kind = if i % 5 == 0 {
            EventType::Deleted
        } else {
            EventType::LoggedIn
        };
        let user = format!("u{}", i % 3);
        let e = event(kind, Some(&user), MS - 1000 * i);
        record(&store, &e).await;
        all.push(e);
    }
    for days in [1, 5, 35, 40] {
        let e = event(EventType::SignedUp, None, MS - days * day_ms);
        record(&store, &e).await;
        all.push(e);
    }
    let query = |limit, kind, since_ms| EventQuery {
        before: None,
        since_ms: Some(since_ms),
        kind,
        limit,
    };
    for limit in [1, 4, 10, 100] {
        let got = all_pages(&store, query(limit, None, MS - 60 * day_ms)).await;
        let ids: Vec<String> = got.iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids, newest_first(&all), "limit {limit}");
    }
    let deleted = all_pages(&store, query(2, Some(EventType::Deleted), MS - 60 * day_ms)).await;
    assert_eq!(deleted.len(), 5);
    assert!(deleted.iter().all(|e| e.kind == EventType::Deleted));
    let recent = all_pages(&store, query(3, None, MS - 2 * day_ms)).await;
    assert_eq!(recent.len(), 26, "today's 25 and yesterday's one");
    let since_exact = all_pages(&store, query(3, None, MS - 4000)).await;
    assert_eq!(
        since_exact.len(),
        5,
        "at or after `since`, to the millisecond"
    );
}

async fn events_past_their_retention_are_gone(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "gus").await;
    let old = event(EventType::LoggedIn, Some("u1"), MS - 1000);
    store.record_event(&old, NOW - 1).await.unwrap();
    let kept = event(EventType::LoggedOut, Some("u1"), MS);
    store.record_event(&kept, NOW + 1).await.unwrap();
    assert_eq!(
        user_pages(&store, "u1", 10).await,
        std::slice::from_ref(&kept.id)
    );
    let every = all_pages(
        &store,
        EventQuery {
            before: None,
            since_ms: Some(MS - DAY * 1000),
            kind: None,
            limit: 10,
        },
    )
    .await;
    assert_eq!(every, [kept]);
}
