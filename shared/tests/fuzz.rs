//! Property tests (fuzzing, bounded) over what parses untrusted input: dates, widget types,
//! tokens, Accept headers, emails, usernames and passwords. Nothing may panic, loop or accept
//! what it should not. Failing inputs are kept by proptest in proptest-regressions/ and replayed
//! first on every run. Raise PROPTEST_CASES for a longer run by hand.

use proptest::prelude::*;
use shared::accounts::{valid_email, valid_username};
use shared::http::prefers_html;
use shared::password::weakness;
use shared::token::TokenKeys;
use shared::widgets::{parse_instant, type_label};

const SECRET: &[u8] = b"fuzz-secret-fuzz-secret-fuzz-secret-0123";

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn dates_parse_or_refuse_without_panicking(s in "\\PC{0,64}") {
        let _ = parse_instant(&s);
    }

    #[test]
    fn dates_in_every_offset_notation_agree(
        secs in 0i64..4_102_444_800, offset_min in -14 * 60i32..=14 * 60
    ) {
        let offset = chrono::FixedOffset::east_opt(offset_min * 60).unwrap();
        let t = chrono::DateTime::from_timestamp(secs, 0).unwrap().with_timezone(&offset);
        let colon = t.format("%Y-%m-%dT%H:%M:%S%:z").to_string();
        let plain = t.format("%Y-%m-%dT%H:%M:%S%z").to_string();
        let zulu = t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let parsed: Vec<_> = [colon, plain, zulu].iter().map(|s| parse_instant(s).unwrap()).collect();
        prop_assert!(parsed.windows(2).all(|w| w[0] == w[1]));
        prop_assert_eq!(parsed[0].timestamp(), secs);
    }

    #[test]
    fn type_labels_keep_every_letter_and_drop_only_dashes(s in "[a-zA-Z0-9-]{0,40}") {
        let label = type_label(&s);
        let letters = |x: &str| x.chars().filter(|c| *c != '-' && *c != ' ').map(|c| c.to_ascii_lowercase()).collect::<String>();
        prop_assert_eq!(letters(&label), letters(&s));
        prop_assert!(!label.starts_with(' ') && !label.ends_with(' ') && !label.contains("  "));
    }

    #[test]
    fn arbitrary_bearer_values_are_refused(s in "\\PC{0,300}") {
        let keys = TokenKeys::new(SECRET, "accounts", "accounts");
        prop_assert!(keys.verify(&s, 0).is_err());
    }

    #[test]
    fn jwt_shaped_garbage_is_refused(a in "[A-Za-z0-9_-]{0,60}", b in "[A-Za-z0-9_-]{0,200}", c in "[A-Za-z0-9_-]{0,90}") {
        let keys = TokenKeys::new(SECRET, "accounts", "accounts");
        let token = format!("{a}.{b}.{c}");
        prop_assert!(keys.verify(&token, 0).is_err());
    }

    #[test]
    fn accept_headers_never_panic(s in "[ -~]{0,200}") {
        let mut h = axum::http::HeaderMap::new();
        if let Ok(v) = axum::http::HeaderValue::from_str(&s) {
            h.insert(axum::http::header::ACCEPT, v);
            let _ = prefers_html(&h);
        }
    }

    #[test]
    fn emails_and_usernames_are_judged_without_panicking(s in "\\PC{0,300}") {
        let _ = valid_email(&s);
        if valid_username(&s) {
            prop_assert!((3..=32).contains(&s.len()));
        }
    }

    #[test]
    fn password_strength_is_judged_quickly_at_any_length(pw in "\\PC{0,300}", name in "[a-z]{0,12}") {
        let started = std::time::Instant::now();
        let _ = weakness(&pw, &name, &format!("{name}@example.com"));
        prop_assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
