//! The `accounts` binary itself: a restart keeps users and sessions (and the generated secret);
//! `make-admin` works while the server runs.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{PASSWORD, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_accounts");

pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with a clean environment: the data directory and, in DynamoDB mode, the table.
pub(crate) fn accounts(dir: &std::path::Path, table: &Option<String>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().env("DATA_DIR", dir);
    if let Some(table) = table {
        cmd.envs(crate::common::dynamodb_vars(table))
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test");
    }
    cmd
}

/// In DynamoDB mode, a fresh table made by the binary's `create-table`; `None` otherwise.
pub(crate) fn table_ready(dir: &std::path::Path) -> Option<String> {
    let table = crate::common::dynamodb_mode().then(crate::common::fresh_table);
    if table.is_some() {
        let out = accounts(dir, &table).arg("create-table").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    table
}

async fn start(dir: &std::path::Path, table: &Option<String>, port: u16) -> Running {
    let mut cmd = accounts(dir, table);
    cmd.env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    serve(cmd, port).await
}

/// Runs `cmd` (the binary, configured) as the server on `port`, once it answers.
pub(crate) async fn serve(mut cmd: Command, port: u16) -> Running {
    let child = cmd.env("PORT", port.to_string()).spawn().unwrap();
    let running = Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if reqwest::get(format!("{}/", running.base)).await.is_ok() {
            return running;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

/// `POST url` with a JSON body (and a bearer token): its status and JSON body. The request is
/// built at once, so the answer borrows nothing.
pub(crate) fn post(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> impl std::future::Future<Output = (u16, Value)> + use<> {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    async move {
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

async fn get(client: &reqwest::Client, url: String, token: &str) -> (u16, Value) {
    let r = client.get(url).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A login of `name` with the test password, which must succeed; the answer.
async fn log_in(c: &reqwest::Client, base: &str, name: &str) -> Value {
    let (status, login) = post(
        c,
        format!("{base}/auth"),
        None,
        json!({"username": name, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    login
}

/// Signs `name` up, activates it from the mail log, logs in; the token.
async fn signed_up_and_logged_in(
    c: &reqwest::Client,
    base: &str,
    dir: &std::path::Path,
    name: &str,
) -> String {
    let (status, _) = post(
        c,
        format!("{base}/user"),
        None,
        json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 201);
    let mail = std::fs::read_to_string(dir.join("mail.log")).unwrap();
    let link = mail
        .lines()
        .filter(|l| l.contains(&format!("\"to\":\"{name}@example.com\"")))
        .flat_map(|l| l.split("\\n"))
        .find(|l| l.starts_with(&format!("{base}/activate?token=")))
        .unwrap()
        .to_string();
    assert_eq!(c.get(&link).send().await.unwrap().status(), 200);
    let login = log_in(c, base, name).await;
    assert_eq!(login["scope"], json!("widgets"));
    login["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_restart_keeps_users_sessions_and_the_secret_and_make_admin_works_live() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let c = reqwest::Client::new();
    let table = table_ready(dir.path());
    let server = start(dir.path(), &table, port).await;
    let token = signed_up_and_logged_in(&c, &server.base, dir.path(), "olga").await;

    // The operator's command, while the server runs.
    let out = accounts(dir.path(), &table)
        .args(["make-admin", "OLGA"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = accounts(dir.path(), &table)
        .args(["make-admin", "nobody"])
        .output()
        .unwrap();
    assert!(!out.status.success());

    let secret = std::fs::read(dir.path().join(accounts::SIGNING_KEYS_FILE)).unwrap();
    assert!(String::from_utf8_lossy(&secret).contains("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(accounts::SIGNING_KEYS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the secret file is private");
    }
    drop(server);

    let server = start(dir.path(), &table, port).await;
    let (status, me) = get(&c, format!("{}/user", server.base), &token).await;
    assert_eq!(status, 200, "the session survived the restart: {me}");
    assert_eq!(me["role"], "admin");
    let login = log_in(&c, &server.base, "olga").await;
    assert_eq!(
        login["scope"],
        json!("widgets admin"),
        "the role applies from the next login"
    );
    assert_eq!(
        std::fs::read(dir.path().join(accounts::SIGNING_KEYS_FILE)).unwrap(),
        secret
    );
}

/// The key ids the running server publishes.
async fn published_kids(c: &reqwest::Client, base: &str) -> Vec<String> {
    let r = c
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let jwks: Value = r.json().await.unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    crate::common::jwt_part(token, 0)["kid"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Runs a key command of the binary; its stdout.
fn key_command(dir: &std::path::Path, table: &Option<String>, command: &str) -> String {
    key_command_with(dir, table, command, &[])
}

/// Runs a key command of the binary with these variables besides; its stdout.
fn key_command_with(
    dir: &std::path::Path,
    table: &Option<String>,
    command: &str,
    vars: &[(&str, &str)],
) -> String {
    let out = accounts(dir, table)
        .envs(vars.iter().copied())
        .arg(command)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn rotating_the_signing_key_logs_nobody_out_and_retiring_the_old_one_ends_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let c = reqwest::Client::new();
    let table = crate::common::dynamodb_mode().then(crate::common::fresh_table);
    if table.is_some() {
        key_command(dir.path(), &table, "create-table");
    }
    let server = start(dir.path(), &table, port).await;
    let before = signed_up_and_logged_in(&c, &server.base, dir.path(), "rota").await;
    let first = published_kids(&c, &server.base).await;
    assert_eq!(first, vec![kid_of(&before)], "one key, the one that signed");
    drop(server);

    let printed = key_command(dir.path(), &table, "rotate-key");
    let server = start(dir.path(), &table, port).await;
    let rotated = published_kids(&c, &server.base).await;
    assert_eq!(rotated.len(), 2);
    assert_eq!(rotated[1], first[0], "the previous key is still published");
    assert!(
        printed.contains(&rotated[0]) && printed.contains(&rotated[1]),
        "{printed}"
    );
    let (status, _) = get(&c, format!("{}/user", server.base), &before).await;
    assert_eq!(status, 200, "a token from before the rotation still works");
    let after = log_in(&c, &server.base, "rota").await["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(kid_of(&after), rotated[0], "the new key signs");
    drop(server);

    key_command(dir.path(), &table, "retire-keys");
    let server = start(dir.path(), &table, port).await;
    assert_eq!(
        published_kids(&c, &server.base).await,
        vec![rotated[0].clone()]
    );
    let (status, _) = get(&c, format!("{}/user", server.base), &before).await;
    assert_eq!(status, 401, "a token of the retired key is refused");
    let (status, _) = get(&c, format!("{}/user", server.base), &after).await;
    assert_eq!(status, 200);

    drop(server);

    // rotate-key makes a key of JWT_ALGORITHM's kind: with RS256, an RSA key goes first and
    // the Ed25519 one stays (the switch; scripts/oauth_interop_test.py restarts a server on it).
    key_command_with(
        dir.path(),
        &table,
        "rotate-key",
        &[("JWT_ALGORITHM", "RS256")],
    );
    let pem = std::fs::read_to_string(dir.path().join(accounts::SIGNING_KEYS_FILE)).unwrap();
    let set = shared::token::KeySet::from_pem(&pem).unwrap();
    assert_eq!(set.current_kind(), shared::token::KeyKind::Rsa);
    assert_eq!(set.kids().nth(1), Some(rotated[0].as_str()));

    // Keys given in the environment are not the command's to change.
    let out = accounts(dir.path(), &table)
        .env("JWT_SIGNING_KEYS", crate::common::test_signing_keys())
        .arg("rotate-key")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `ALLOWED_ORIGINS=*` (or anything that is not a list of exact origins) stops the server at
/// start-up with a clear reason, before it listens.
#[tokio::test]
async fn a_wildcard_or_malformed_allowed_origin_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    for (origins, says) in [
        ("*", "any web site"),
        ("https://app.example.com,*", "any web site"),
        ("https://app.example.com/", "not an origin"),
    ] {
        let out = accounts(dir.path(), &None)
            .env("PORT", free_port().to_string())
            .env("ALLOWED_ORIGINS", origins)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{origins}: {stderr}");
        assert!(
            stderr.contains("ALLOWED_ORIGINS") && stderr.contains(says),
            "{origins}: {stderr}"
        );
    }
}

/// `accounts sample-upstream` listens on one address of this machine only: the wildcard
/// addresses (every interface) and anything that is not an address stop it before it listens.
#[tokio::test]
async fn the_sample_upstream_refuses_a_wildcard_or_malformed_host() {
    let dir = tempfile::tempdir().unwrap();
    for host in ["0.0.0.0", "::", "localhost", "127.0.0.1:80", ""] {
        let out = accounts(dir.path(), &None)
            .env("SAMPLE_UPSTREAM_PORT", free_port().to_string())
            .env("SAMPLE_UPSTREAM_HOST", host)
            .arg("sample-upstream")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{host:?}: {stderr}");
        assert!(
            stderr.contains("SAMPLE_UPSTREAM_HOST"),
            "{host:?}: {stderr}"
        );
    }
}

/// `accounts add-client`, while the server runs: the client an admin then lists, its secret
/// printed once and never listed; a public one without a secret; a registration that breaks a
/// rule refused with the rule and exit status 2, nothing registered.
#[tokio::test]
async fn the_operator_registers_an_oauth_client_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let c = reqwest::Client::new();
    let table = table_ready(dir.path());
    let server = start(dir.path(), &table, port).await;
    signed_up_and_logged_in(&c, &server.base, dir.path(), "olga").await;
    let out = accounts(dir.path(), &table)
        .args(["make-admin", "olga"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let admin = log_in(&c, &server.base, "olga").await["token"]
        .as_str()
        .unwrap()
        .to_string();

    let out = accounts(dir.path(), &table)
        .args([
            "add-client",
            "--name",
            "Ada's shop",
            "--redirect-uri",
            "https://shop.example.com/callback",
            "--redirect-uri",
            "http://127.0.0.1:8080/cb",
            "--scope",
            "openid",
            "--first-party",
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| {
        printed
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {printed}"))
            .to_string()
    };
    let (id, secret) = (field("client_id"), field("client_secret"));
    assert_eq!(secret.len(), 43);

    let out = accounts(dir.path(), &table)
        .args([
            "add-client",
            "--name",
            "SPA",
            "--redirect-uri",
            "http://localhost:5173/cb",
            "--public",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("client_secret"));

    let out = accounts(dir.path(), &table)
        .args([
            "add-client",
            "--name",
            "Bad",
            "--redirect-uri",
            "http://shop.example.com/cb",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("redirect_uris must be https URLs"));
    let out = accounts(dir.path(), &table)
        .args(["add-client", "--name"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let (status, list) = get(&c, format!("{}/oauth/clients", server.base), &admin).await;
    assert_eq!(status, 200, "{list}");
    let clients = list["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2, "{list}");
    // Both made within a second, perhaps: found by id, not by place.
    let shop = clients
        .iter()
        .find(|c| c["client_id"] == id.as_str())
        .unwrap();
    assert_eq!(shop["name"], "Ada's shop");
    assert_eq!(shop["scopes"], json!(["openid"]));
    assert_eq!(shop["first_party"], true);
    assert_eq!(shop["public"], false);
    let spa = clients
        .iter()
        .find(|c| c["client_id"] != id.as_str())
        .unwrap();
    assert_eq!(
        (&spa["name"], &spa["public"]),
        (&json!("SPA"), &json!(true))
    );
    assert!(!list.to_string().contains(&secret));
}

/// `accounts import-users`: a dry run writes nothing; a file with a refused line exits 1 and
/// names the line; run again, what is there is skipped; the imported password signs in on the
/// server; a missing file or a bad argument is a usage error.
#[tokio::test]
async fn import_users_checks_imports_resumes_and_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    let table = table_ready(dir.path());
    // Python bcrypt 4.0.1, cost 10.
    let bcrypt = "$2b$10$nmEI1wLVYiGA1c74gDbIX.UDy6szk1VJF5/kqG854qmdGhRETCPw6";
    let file = dir.path().join("users.jsonl");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n{}\n",
            json!({"username": "imported", "email": "imported@example.com", "password_hash": bcrypt}),
            json!({"username": "nohash", "email": "nohash@example.com"}),
            json!({"username": "bad", "email": "not an address"}),
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = accounts(dir.path(), &table)
            .arg("import-users")
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        (
            out.status.code(),
            text,
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let path = file.to_str().unwrap();
    let (code, out, err) = run(&[path, "--dry-run"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("line 3: refused: bad email"), "{out}");
    assert!(
        out.contains("would import 2 (0 flagged), skipped 0 already there, refused 1"),
        "{out}"
    );
    assert!(!out.contains(bcrypt) && !err.contains(bcrypt));
    let (code, out, _) = run(&[path]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("imported 2 (0 flagged), skipped 0 already there, refused 1"),
        "{out}"
    );
    let (_, out, _) = run(&["--dry-run", path]);
    assert!(
        out.contains("would import 0 (0 flagged), skipped 2 already there"),
        "{out}"
    );
    // The bad line mended: the rest is skipped, the mended line imported, exit 0.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("not an address", "bad@example.com");
    std::fs::write(&file, text).unwrap();
    let (code, out, _) = run(&[path]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("imported 1 (0 flagged), skipped 2 already there, refused 0"),
        "{out}"
    );
    assert_eq!(run(&["/nonexistent/users.jsonl"]).0, Some(2));
    assert_eq!(run(&[path, "--force"]).0, Some(2));
    assert_eq!(run(&[path, "--in-flight", "0"]).0, Some(2));
    assert_eq!(run(&[path, "--in-flight"]).0, Some(2));
    assert_eq!(run(&[path, path]).0, Some(2));
    assert_eq!(run(&[]).0, Some(2));
    let (code, out, _) = run(&["--in-flight", "1", path, "--dry-run"]);
    assert_eq!(code, Some(0), "{out}");

    let port = free_port();
    let server = start(dir.path(), &table, port).await;
    let c = reqwest::Client::new();
    let body = json!({"username": "imported", "password": "the password of the old system"});
    let (status, _) = post(&c, format!("{}/auth", server.base), None, body).await;
    assert_eq!(status, 200);
}
