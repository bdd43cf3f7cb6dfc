//! No drift: the routes of API.md, of template.yaml and of the functions (which the local server
//! serves, merged) are one set, each route in one function.

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::Method;

use crate::common::Server;

type Route = (String, String);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn served() -> BTreeSet<(String, Route)> {
    accounts::FUNCTIONS
        .iter()
        .flat_map(|f| {
            f.routes.iter().map(|r| {
                (
                    f.name.to_string(),
                    (r.method.to_string(), r.path.to_string()),
                )
            })
        })
        .collect()
}

/// The function template.yaml builds on a line, if the line names one: each function's
/// `Binary: <name>` (its build property, the binary of the `functions` package).
fn binary_of(line: &str) -> Option<&str> {
    line.trim().strip_prefix("Binary: ")
}

/// (function, (method, path)) from template.yaml: each function's `Binary: <name>` and the
/// `Method:` / `Path:` of its HttpApi events.
fn in_template() -> BTreeSet<(String, Route)> {
    let text = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    let mut out = BTreeSet::new();
    let (mut function, mut method) = (String::new(), String::new());
    for line in text.lines().map(str::trim) {
        if let Some(f) = binary_of(line) {
            function = f.to_string();
        } else if let Some(m) = line.strip_prefix("Method: ") {
            method = m.to_string();
        } else if let Some(p) = line.strip_prefix("Path: ") {
            out.insert((function.clone(), (method.clone(), p.to_string())));
        }
    }
    out
}

/// The functions whose row says `.signs_tokens()`, and those template.yaml gives the
/// private keys (`JWT_SIGNING_KEYS`) to: the same, and nothing else (not the Globals) holds them.
#[test]
fn only_the_functions_that_sign_are_given_the_private_keys() {
    let signers: BTreeSet<String> = accounts::FUNCTIONS
        .iter()
        .filter(|f| f.is_signing())
        .map(|f| f.name.to_string())
        .collect();
    assert_eq!(
        signers,
        BTreeSet::from(
            [
                "email-code-verify",
                "login",
                "mfa-login",
                "passkey-login",
                "refresh"
            ]
            .map(String::from)
        )
    );
    let text = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    let mut given = BTreeSet::new();
    let mut function: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if line.starts_with("  ") && !line.starts_with("   ") && trimmed.ends_with(':') {
            function = None; // a new resource (or section) starts
        }
        if let Some(f) = binary_of(line) {
            function = Some(f.to_string());
        }
        if trimmed.starts_with("JWT_SIGNING_KEYS:") {
            given.insert(function.clone().unwrap_or_else(|| "Globals".into()));
        }
    }
    assert_eq!(given, signers, "template.yaml gives JWT_SIGNING_KEYS to");
    assert!(
        text.contains("JWT_VERIFYING_KEYS:"),
        "the verifiers' public keys"
    );
}

/// Each function template.yaml builds (its `Binary:`) with the text of its resource.
fn template_functions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut block = String::new();
    let mut name: Option<String> = None;
    for line in text.lines().chain(["  End:"]) {
        let trimmed = line.trim();
        let starts_resource =
            line.starts_with("  ") && !line.starts_with("   ") && trimmed.ends_with(':');
        let top_level = !line.starts_with(' ') && !line.is_empty();
        if starts_resource || top_level {
            if let Some(n) = name.take() {
                out.push((n, std::mem::take(&mut block)));
            }
            block.clear();
        }
        if let Some(b) = binary_of(line) {
            name = Some(b.to_string());
        }
        block.push_str(line);
        block.push('\n');
    }
    out
}

/// The public documents (the key set, discovery) are served by functions that are given no
/// policy, no secret and nothing of their own but their route: they read nothing.
#[test]
fn the_public_documents_functions_hold_nothing() {
    let built = template_functions();
    for name in ["jwks", "discovery"] {
        let (_, block) = built
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("template.yaml builds {name}"));
        for refused in [
            "Policies:",
            "Environment:",
            "resolve:secretsmanager",
            "dynamodb:",
        ] {
            assert!(!block.contains(refused), "{name}: {refused}");
        }
    }
}

/// The binary of the account-event publisher (the `publisher` package).
const PUBLISHER: &str = "publish-events";

/// What a function's row says it uses, the template grants it: SES to those that send mail,
/// the widgets upstream to the one that calls it, and to no other.
#[test]
fn the_template_grants_each_function_what_its_row_uses() {
    let rows: Vec<_> = accounts::FUNCTIONS
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    let mut built = template_functions();
    // The function the table's stream invokes (no route, no row): its own package, only its
    // stream and the bus and queue it sends to.
    let (_, publisher) = built
        .iter()
        .find(|(n, _)| n == PUBLISHER)
        .expect("template.yaml builds the event publisher");
    for needed in [
        "CodeUri: publisher\n",
        "Type: DynamoDB\n",
        "Stream: !GetAtt UsersTable.StreamArn",
        "FunctionResponseTypes: [ReportBatchItemFailures]",
        "BisectBatchOnFunctionError: true",
        "Destination: !GetAtt EventsDeadLetterQueue.Arn",
        "events:PutEvents",
        "JWT_SECRET: !Ref AWS::NoValue",
    ] {
        assert!(publisher.contains(needed), "{PUBLISHER}: {needed}");
    }
    for refused in ["Type: HttpApi", "dynamodb:", "ses:", "JWT_SIGNING_KEYS"] {
        assert!(!publisher.contains(refused), "{PUBLISHER}: {refused}");
    }
    built.retain(|(n, _)| n != PUBLISHER);
    let mut names: Vec<_> = built.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    let mut expected = rows.clone();
    expected.sort();
    assert_eq!(names, expected, "template.yaml builds one function per row");
    for (name, block) in &built {
        let f = accounts::FUNCTIONS.iter().find(|f| f.name == name).unwrap();
        assert_eq!(
            block.contains("ses:SendEmail"),
            f.is_sending_mail(),
            "{name}: ses:SendEmail in template.yaml against .sends_mail() in its row"
        );
        assert_eq!(
            block.contains("WIDGETS_API_URL:"),
            f.is_calling_widgets(),
            "{name}: WIDGETS_API_URL in template.yaml against .calls_widgets() in its row"
        );
        assert!(
            block.contains("CodeUri: functions\n"),
            "{name}: CodeUri: functions"
        );
        assert_eq!(
            block.contains("LOGIN_NAME_KEY: !Sub \"{{resolve:secretsmanager:${LoginNameKeySecret}:SecretString}}\""),
            f.is_counting_login_names(),
            "{name}: LOGIN_NAME_KEY in template.yaml against .counts_login_names() in its row"
        );
        // The hooks: the sign-up hook to signup, the token hook to the functions that sign, the
        // migration hook to the functions that meet a name of no account (a login, a reset),
        // and the secret that signs hook requests to those alone.
        let migrates = ["login", "authorize", "password-forgot"].contains(&name.as_str());
        assert_eq!(
            f.is_asking_migration_hook(),
            migrates,
            "{name}: .asks_migration_hook()"
        );
        for (var, asks) in [
            ("SIGNUP_HOOK", name == "signup"),
            ("TOKEN_HOOK", f.is_signing()),
            ("MIGRATION_HOOK", migrates),
        ] {
            assert_eq!(
                block.contains(&format!("{var}_URL:")),
                asks,
                "{name}: {var}_URL"
            );
            assert_eq!(
                block.contains(&format!("{var}_ARN:")),
                asks,
                "{name}: {var}_ARN"
            );
        }
        let hooked = name == "signup" || f.is_signing() || migrates;
        assert_eq!(
            block.contains("HOOK_SECRET:"),
            hooked,
            "{name}: HOOK_SECRET"
        );
        assert_eq!(
            block.matches("lambda:InvokeFunction").count(),
            usize::from(name == "signup") + usize::from(f.is_signing()) + usize::from(migrates),
            "{name}: lambda:InvokeFunction (its hooks' functions, and only those)"
        );
    }
}

/// (method, path) from the route table of the contract, the project's own docs/API.md.
fn in_contract() -> BTreeSet<Route> {
    let path = repo().join("docs/API.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the contract is read from {}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter_map(|route| {
            let (method, path) = route.split_once(' ')?;
            let known = ["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method);
            known.then(|| {
                (
                    method.to_string(),
                    path.split('?').next().unwrap().to_string(),
                )
            })
        })
        .collect()
}

#[test]
fn template_functions_and_contract_list_the_same_routes() {
    let served = served();
    assert_eq!(in_template(), served, "template.yaml and the functions");
    let routes: BTreeSet<Route> = served.iter().map(|(_, r)| r.clone()).collect();
    assert_eq!(
        routes.len(),
        served.len(),
        "each route in exactly one function"
    );
    assert_eq!(in_contract(), routes, "API.md and the functions");
    for function in accounts::FUNCTIONS {
        let bin = format!("functions/src/bin/{}.rs", function.name);
        let main =
            std::fs::read_to_string(repo().join(&bin)).unwrap_or_else(|e| panic!("{bin}: {e}"));
        let module = function.name.replace('-', "_");
        assert!(
            main.contains(&format!("run(&functions::{module}::FUNCTION)")),
            "{bin} runs its own row of the route table"
        );
    }
}

/// A clone of the repository alone must build and pass its tests: nothing but Markdown (notes on
/// where a document came from) may name a path into the folder of notes beside the checkout.
#[test]
fn no_tracked_file_reaches_outside_the_repository() {
    let out = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(repo())
        .output()
        .expect("git ls-files");
    assert!(out.status.success(), "git ls-files failed");
    // Built from parts, so that this file does not name the path it looks for.
    let outside = ["..", "shared", ""].join("/");
    let mut offenders = Vec::new();
    for file in String::from_utf8(out.stdout).unwrap().split('\0') {
        if file.is_empty() || file.ends_with(".md") {
            continue;
        }
        let Ok(text) = std::fs::read(repo().join(file)) else {
            continue; // listed but deleted in the work tree
        };
        if String::from_utf8_lossy(&text).contains(&outside) {
            offenders.push(file.to_string());
        }
    }
    assert!(offenders.is_empty(), "these name {outside}: {offenders:?}");
}

#[tokio::test]
async fn the_local_server_serves_every_route() {
    let s = Server::start().await;
    for (_, (method, path)) in served() {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let path = path.replace("{username}", "alice");
        let r = s.call(method.clone(), &path, None, None).await;
        // A page (the hosted sign-in page's routes) is served too: only JSON says not found.
        let body: serde_json::Value = serde_json::from_str(&r.text).unwrap_or_default();
        let code = body["error"].as_str().map(str::to_string);
        assert!(
            !matches!(code.as_deref(), Some("not_found" | "method_not_allowed")),
            "{method} {path}: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn the_served_openapi_document_lists_exactly_the_routes() {
    let s = Server::start().await;
    let doc = s.get("/openapi.json", None).await.expect(200, None);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut listed = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                listed.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let routes: BTreeSet<Route> = served().into_iter().map(|(_, r)| r).collect();
    assert_eq!(listed, routes);
}

/// openapi.json says which operations need a credential as the service does: every operation
/// that answers a request without one `401 unauthorized` declares a `security` without the
/// empty alternative, and every operation that does not, declares none (or the empty one).
/// (`GET /users` once declared none while it needed a token.)
#[tokio::test]
async fn openapi_declares_a_credential_exactly_where_one_is_needed() {
    let s = Server::start().await;
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("openapi.json")).unwrap())
            .unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(m) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            let security = operation["security"].as_array();
            let needs = security.is_some_and(|alternatives| {
                !alternatives.is_empty()
                    && alternatives
                        .iter()
                        .all(|a| a.as_object().is_some_and(|o| !o.is_empty()))
            });
            let url = path.replace("{username}", "nobody");
            let body = (m != reqwest::Method::GET).then(|| serde_json::json!({}));
            let r = s.call(m, &url, None, body).await;
            let answer: serde_json::Value = serde_json::from_str(&r.text).unwrap_or_default();
            let refused = r.status.as_u16() == 401 && answer["error"] == "unauthorized";
            assert_eq!(
                refused, needs,
                "{method} {path}: answered {} without a credential, and openapi.json's security is {:?}",
                r.status, operation["security"]
            );
        }
    }
}

#[test]
fn the_docs_show_every_committed_screenshot_and_each_they_show_exists() {
    let page = std::fs::read_to_string(repo().join("docs/integrating.md")).unwrap();
    let shown: BTreeSet<String> = page
        .split("src=\"screenshots/")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_string())
        .collect();
    let committed: BTreeSet<String> = std::fs::read_dir(repo().join("docs/screenshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(!committed.is_empty());
    assert_eq!(
        shown, committed,
        "docs/integrating.md's screenshots and docs/screenshots/"
    );
    // The browser tests write each of them (as NAME-phone.png): a page renamed there is
    // renamed here.
    let tests: String = [
        "scripts/browser_test.py",
        "scripts/oidc_browser_test.py",
        "scripts/passkey_browser_test.py",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(repo().join(f)).unwrap())
    .collect();
    for png in &committed {
        let name = png.trim_end_matches(".png");
        assert!(
            tests.contains(&format!("\"{name}\"")),
            "no browser test makes {name} any more"
        );
    }
}

/// The HTTP API's `CorsConfiguration` in template.yaml's `text`, key by key (`AllowMethods`
/// ...), as written between `CorsConfiguration:` and the end of its block.
fn template_cors(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("CorsConfiguration:"));
    let head = lines.next().expect("template.yaml has a CorsConfiguration");
    assert_eq!(
        head.trim(),
        "CorsConfiguration: !If",
        "CORS only when AllowedOrigins is set"
    );
    assert_eq!(lines.next().map(str::trim), Some("- HasAllowedOrigins"));
    let mut out = std::collections::BTreeMap::new();
    for line in lines {
        let entry = line.trim().trim_start_matches("- ");
        if entry == "!Ref AWS::NoValue" {
            return out;
        }
        if let Some((key, value)) = entry.split_once(": ") {
            out.insert(key.to_string(), value.to_string());
        }
    }
    panic!("CorsConfiguration's !If has no AWS::NoValue branch");
}

/// A YAML flow list as template.yaml writes one: `[a, b]`.
fn flow_list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// The cloud answers browsers as the local server does: template.yaml's CORS is the local
/// layer's methods (the route table's), headers, exposed headers and max-age, without
/// credentials, for the origins of the `AllowedOrigins` parameter, whose default (none, and
/// then no CORS at all) is `ALLOWED_ORIGINS`' default.
#[test]
fn the_templates_cors_is_the_local_servers() {
    use accounts::cors;
    let methods = cors::allowed_methods();
    for (function, (method, path)) in served() {
        assert!(
            methods.iter().any(|m| m.as_str() == method),
            "{function}'s {method} {path} is not among CORS' methods"
        );
    }
    let text = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    let expected = std::collections::BTreeMap::from(
        [
            (
                "AllowOrigins",
                r#"!Split [",", !Ref AllowedOrigins]"#.to_string(),
            ),
            ("AllowMethods", flow_list(&methods)),
            ("AllowHeaders", flow_list(&cors::ALLOWED_HEADERS)),
            ("ExposeHeaders", flow_list(&cors::EXPOSED_HEADERS)),
            ("MaxAge", cors::MAX_AGE.as_secs().to_string()),
            ("AllowCredentials", "false".to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    assert_eq!(template_cors(&text), expected);

    assert!(text.contains("  HasAllowedOrigins: !Not [!Equals [!Ref AllowedOrigins, \"\"]]"));
    let parameter: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "  AllowedOrigins:")
        .take_while(|l| !l.starts_with("  Description"))
        .collect();
    assert!(parameter.contains(&"    Default: \"\""), "{parameter:?}");
    let defaults = shared::config::Config::from_lookup(|_| None).unwrap();
    assert!(defaults.allowed_origins.is_empty());
}

/// docs/contributing.md's table of functions is the route table's rows, in order, each with its routes;
/// then the publisher. A row added, renamed or given a route fails here with the command that
/// writes it.
#[test]
fn the_contributors_function_table_is_the_route_table() {
    let text = std::fs::read_to_string(repo().join("docs/contributing.md")).unwrap();
    let written = accounts::template::rewrite_readme(&text, accounts::FUNCTIONS).unwrap();
    assert!(
        written == text,
        "docs/contributing.md's table of functions is not the route table's: run \
         `cargo run --bin accounts -- template` in the repository's root and commit the result"
    );
}

/// openapi.json is what the route table's rows and the types they name write: a route, a body
/// or an answer changed without `cargo run --bin accounts -- template` fails here.
#[test]
fn openapi_json_is_written_from_the_route_table_and_the_types() {
    let text = std::fs::read_to_string(repo().join("openapi.json")).unwrap();
    assert!(
        accounts::openapi::text(accounts::FUNCTIONS) == text,
        "openapi.json is not what the route table and its types write: run \
         `cargo run --bin accounts -- template` in the repository's root and commit the result"
    );
}

/// template.yaml's resources of each function are what the route table's rows write: a row
/// changed without `cargo run --bin accounts -- template` fails here.
#[test]
fn the_templates_functions_are_written_from_the_route_table() {
    let text = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    let written = accounts::template::rewrite(&text, accounts::FUNCTIONS).unwrap();
    assert!(
        written == text,
        "template.yaml's functions are not what the route table writes: run \
         `cargo run --bin accounts -- template` in the repository's root and commit the result"
    );
}

/// The documents a reader follows links between: the README, the measurements and docs/.
fn documents() -> Vec<String> {
    let mut files = vec!["README.md".to_string(), "BENCHMARKS.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// A heading's anchor as GitHub makes it: lowercase, everything but letters, digits, spaces,
/// hyphens and underscores dropped, spaces as hyphens; a repeated one gets `-1`, `-2`, ...
fn anchors_of(markdown: &str) -> BTreeSet<String> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let mut out = BTreeSet::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if in_code || hashes == 0 || hashes > 6 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let slug: String = line[hashes..]
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.entry(slug.clone()).or_default();
        out.insert(if *n == 0 {
            slug.clone()
        } else {
            format!("{slug}-{n}")
        });
        *n += 1;
    }
    out
}

/// Every link between the documents leads somewhere: `[text](path#anchor)` and `<img src>`
/// name a file of the repository, and an anchor a heading of the file it names.
#[test]
fn every_link_in_the_docs_leads_to_a_file_and_a_heading_there() {
    let mut dead = Vec::new();
    let mut checked = 0;
    for file in documents() {
        let text = std::fs::read_to_string(repo().join(&file)).unwrap();
        let dir = std::path::Path::new(&file).parent().unwrap().to_path_buf();
        let targets = text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
            .chain(
                text.split("src=\"")
                    .skip(1)
                    .filter_map(|rest| rest.split('"').next()),
            )
            .filter(|t| !t.contains(' ') && !t.contains("://") && !t.starts_with("mailto:"));
        for target in targets {
            checked += 1;
            let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
            let named = if path.is_empty() {
                std::path::PathBuf::from(&file)
            } else {
                dir.join(path)
            };
            let Ok(resolved) = repo().join(&named).canonicalize() else {
                dead.push(format!("{file}: {target} (no such file)"));
                continue;
            };
            if !anchor.is_empty() {
                let body = std::fs::read_to_string(&resolved).unwrap_or_default();
                if !anchors_of(&body).contains(anchor) {
                    dead.push(format!("{file}: {target} (no such heading)"));
                }
            }
        }
    }
    assert!(checked > 50, "{checked} links");
    assert!(dead.is_empty(), "dead links:\n{}", dead.join("\n"));
}

/// The README is short and points at every document of docs/; each of those says first whom
/// it is for.
#[test]
fn the_readme_is_short_and_leads_to_every_document() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 300, "README.md has {lines} lines");
    for file in documents().iter().filter(|f| f.starts_with("docs/")) {
        assert!(
            readme.contains(&format!("]({file})")),
            "README.md does not lead to {file}"
        );
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        let opening = text.lines().nth(2).unwrap_or_default();
        assert!(
            opening.starts_with("For ") || file == "docs/API.md",
            "{file} does not open with whom it is for: {opening}"
        );
    }
}

/// docs/configuration.md names every variable the configuration reads and every parameter of
/// template.yaml: a setting added without its row fails here.
#[test]
fn every_setting_and_template_parameter_is_documented() {
    let page = std::fs::read_to_string(repo().join("docs/configuration.md")).unwrap();
    let config = std::fs::read_to_string(repo().join("shared/src/config.rs")).unwrap();
    let mut variables = BTreeSet::new();
    for piece in config.split('"').skip(1).step_by(2) {
        // Names in capitals, but for the algorithms' (`RS256`) and a PEM label's.
        let algorithm = piece.len() == 5 && piece[2..].chars().all(|c| c.is_ascii_digit());
        let is_name = piece.len() > 3
            && !algorithm
            && piece != "PRIVATE"
            && piece.starts_with(|c: char| c.is_ascii_uppercase())
            && piece
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if is_name {
            variables.insert(piece.to_string());
        }
    }
    assert!(variables.len() > 30, "{variables:?}");
    let template = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    let parameters_block = template
        .split("\nParameters:\n")
        .nth(1)
        .unwrap()
        .split("\nRules:\n")
        .next()
        .unwrap();
    let parameters: Vec<&str> = parameters_block
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix(':'))
        .filter(|name| !name.starts_with(' ') && !name.starts_with('#'))
        .collect();
    assert!(parameters.len() > 40, "{parameters:?}");
    let missing: Vec<&str> = variables
        .iter()
        .map(String::as_str)
        .chain(parameters)
        .filter(|name| !page.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not name {missing:?}"
    );
}
