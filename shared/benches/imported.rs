//! The first login of an imported user: verifying the hash another system made (bcrypt at
//! Supabase's and Auth0's cost 10, Django's PBKDF2-SHA256 at 1,000,000 rounds, passlib's scrypt,
//! argon2-cffi's argon2id), each followed by the dummy argon2id check that keeps every check at
//! least as slow as this service's own, against one argon2id check at the service's parameters.
//! Right and wrong passwords cost the same. Run by bench/run.sh (stage `import`).

use base64::Engine;
use criterion::{Criterion, criterion_group, criterion_main};
use shared::password::{DUMMY_HASH, Hasher};

const PASSWORD: &str = "correct horse battery staple";

fn imported(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hasher = Hasher::default();
    let bcrypt = bcrypt::hash(PASSWORD, 10).unwrap();
    let django = {
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(PASSWORD.as_bytes(), b"benchsalt", 1_000_000, &mut out);
        let b64 = base64::engine::general_purpose::STANDARD.encode(out);
        format!("pbkdf2_sha256$1000000$benchsalt${b64}")
    };
    // From server/tests/fixtures/import/hashes.json: passlib 1.7.4's scrypt (ln=16, r=8, p=1)
    // and argon2-cffi 25.1's PasswordHasher() (m=65536, t=3, p=4), of other passwords: a check
    // costs the same right or wrong.
    let scrypt =
        "$scrypt$ln=16,r=8,p=1$Vsr5fy+lNGYspRTivPfeew$Gpsj2iK3wVSnm/Ma0l/v+8g7u4RlWDrpMahj5SlZXdE";
    let argon2_cffi = "$argon2id$v=19$m=65536,t=3,p=4$fUmmd0BE/X2ohAnFG01cig$Vcc4o/sXo9Tc77oFLWzAkgsuNI9rJCnB6W7jNhdjKYo";
    let mut g = c.benchmark_group("imported");
    g.sample_size(10);
    let cases: [(&str, &str); 5] = [
        ("argon2id, the service's own (the baseline)", DUMMY_HASH),
        ("bcrypt cost 10 + the dummy argon2id", &bcrypt),
        (
            "Django pbkdf2_sha256 1,000,000 + the dummy argon2id",
            &django,
        ),
        ("passlib scrypt ln=16 r=8 p=1 + the dummy argon2id", scrypt),
        (
            "argon2-cffi argon2id m=65536 t=3 p=4 + the dummy argon2id",
            argon2_cffi,
        ),
    ];
    for (name, hash) in cases {
        g.bench_function(name, |b| {
            b.iter(|| rt.block_on(hasher.verify(PASSWORD, Some(hash))).unwrap())
        });
    }
    g.bench_function("bcrypt cost 10, a wrong password", |b| {
        b.iter(|| rt.block_on(hasher.verify("wrong", Some(&bcrypt))).unwrap())
    });
    g.finish();
}

criterion_group!(benches, imported);
criterion_main!(benches);
