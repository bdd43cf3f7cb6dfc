//! The physical limit of the login and sign-up routes: one argon2id hash at the service's
//! parameters (m = 19456 KiB, t = 2, p = 1), on one core, through the same worker pool the
//! routes use, and through the allocating path for comparison; and the strength check every
//! sign-up also runs. Run by bench/run.sh.

use criterion::{Criterion, criterion_group, criterion_main};
use shared::password::{DUMMY_HASH, Hasher, hash_blocking, weakness};

fn argon2(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hasher = Hasher::default();
    let mut g = c.benchmark_group("argon2id");
    g.sample_size(30);
    g.bench_function("verify (worker pool, memory reused)", |b| {
        b.iter(|| {
            rt.block_on(hasher.verify("correct horse battery staple", Some(DUMMY_HASH)))
                .unwrap()
        })
    });
    // The machine's real parallel limit: one verify per core at the same time (they share
    // caches and memory bandwidth, so this is slower than one verify alone).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    g.bench_function(format!("verify x {cores} at once, one per core"), |b| {
        b.iter(|| {
            rt.block_on(futures::future::join_all((0..cores).map(|_| {
                hasher.verify("correct horse battery staple", Some(DUMMY_HASH))
            })))
        })
    });
    g.bench_function("hash (worker pool, memory reused)", |b| {
        b.iter(|| {
            rt.block_on(hasher.hash("correct horse battery staple"))
                .unwrap()
        })
    });
    g.bench_function("hash (allocating, as the crate does by default)", |b| {
        b.iter(|| hash_blocking("correct horse battery staple").unwrap())
    });
    g.finish();
    // The rest of a sign-up's CPU that is not argon2: the strength check (zxcvbn), which bounds
    // sign-ups together with the hash.
    c.bench_function("password strength check (zxcvbn)", |b| {
        b.iter(|| weakness("correct horse battery staple", "r1_1", "r1_1@example.com"))
    });
}

criterion_group!(benches, argon2);
criterion_main!(benches);
