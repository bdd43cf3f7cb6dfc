//! What a token costs every authenticated request: verifying one (and, at login, signing one)
//! with Ed25519 (EdDSA, the default) against RSA-2048 (RS256) and HMAC-SHA-512 (HS512), and a
//! token found in the cache of verified tokens. Run by bench/run.sh.

use criterion::{Criterion, criterion_group, criterion_main};
use shared::token::{Claims, KeyKind, KeySet, TokenKeys};

fn claims() -> Claims {
    Claims {
        sub: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        name: "alice".into(),
        email: "alice@example.com".into(),
        scope: "widgets".into(),
        role: "user".into(),
        sid: "Kq3v0m1tZ8yQx2nW5bHf7A".into(),
        iat: 1_800_000_000,
        exp: 1_800_086_400,
        iss: "accounts".into(),
        aud: "accounts".into(),
        nbf: None,
        amr: vec!["pwd".into()],
        acr: "aal1".into(),
        ext: None,
    }
}

fn tokens(c: &mut Criterion) {
    let eddsa = TokenKeys::with_set(
        KeySet::from_pem(&KeySet::generate_pem().unwrap()).unwrap(),
        "accounts",
        "accounts",
    );
    // A set after a rotation: the token's key is found by its kid, not by trying each.
    let rotated_pem = format!(
        "{}{}",
        KeySet::generate_pem().unwrap(),
        KeySet::generate_pem().unwrap()
    );
    let rs256 = TokenKeys::with_set(
        KeySet::from_pem(&KeySet::generate_pem_of(KeyKind::Rsa).unwrap()).unwrap(),
        "accounts",
        "accounts",
    );
    let hs512 = TokenKeys::new(&[42u8; 64], "accounts", "accounts");
    let mut g = c.benchmark_group("token");
    for (name, keys) in [("EdDSA", &eddsa), ("RS256", &rs256), ("HS512", &hs512)] {
        let token = keys.sign(&claims()).unwrap();
        g.bench_function(format!("verify {name}"), |b| {
            b.iter(|| keys.verify(&token, 1_800_000_001).unwrap())
        });
        g.bench_function(format!("sign {name}"), |b| {
            b.iter(|| keys.sign(&claims()).unwrap())
        });
    }
    let rotated = TokenKeys::with_set(
        KeySet::from_pem(&rotated_pem).unwrap(),
        "accounts",
        "accounts",
    );
    let token = rotated.sign(&claims()).unwrap();
    g.bench_function("verify EdDSA, a set of two keys", |b| {
        b.iter(|| rotated.verify(&token, 1_800_000_001).unwrap())
    });
    // A token seen before, from the cache of verified tokens (as every request after a
    // token's first, in one process): a SHA-256 of the token, a lookup, a copy of the claims.
    let cached = TokenKeys::with_set(
        KeySet::from_pem(&KeySet::generate_pem().unwrap()).unwrap(),
        "accounts",
        "accounts",
    )
    .with_cache(shared::token::DEFAULT_TOKEN_CACHE_ENTRIES);
    let token = cached.sign(&claims()).unwrap();
    cached.verify(&token, 1_800_000_001).unwrap();
    g.bench_function("verify EdDSA, cached", |b| {
        b.iter(|| cached.verify(&token, 1_800_000_001).unwrap())
    });
    g.finish();
}

criterion_group!(benches, tokens);
criterion_main!(benches);
