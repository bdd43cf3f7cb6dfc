//! The physical limit of the login and sign-up routes: one argon2id hash at the service's
//! parameters (m = 19456 KiB, t = 2, p = 1), on one core, through the same worker pool the
//! routes use, and through the allocating path for comparison. Run by bench/run.sh.

use criterion::{Criterion, criterion_group, criterion_main};
use shared::password::{DUMMY_HASH, Hasher, hash_blocking};

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
}

criterion_group!(benches, argon2);
criterion_main!(benches);
