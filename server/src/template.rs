//! template.yaml's resources of each function (the function and its log group), written from
//! its row of the route table: `accounts template` rewrites what lies between the two marker
//! lines (and docs/contributing.md's table of functions between its own), and the drift test fails, with
//! that command, when a committed file is not what the rows write. Everything else of template.yaml (parameters, conditions, the globals, the
//! table, the API, the event publisher, the outputs) is written by hand, outside the markers.
//!
//! The text is built line by line, not through a YAML library: the output is the same bytes
//! for the same rows, comments included, so that a change of a row shows as a small diff.

use std::fmt::Write;

use shared::lambda::{Function, TableAction};

/// The line before the written resources.
pub const BEGIN: &str = "  # ---- The route table's functions: written from each module's FUNCTION row by \
                         `cargo run --bin accounts -- template`; edit the rows, not this. ----";
/// The line after them.
pub const END: &str = "  # ---- End of the route table's functions. ----";

/// `mfa-recovery-codes` → `MfaRecoveryCodes`: the logical ids' stem.
fn pascal(name: &str) -> String {
    name.split(['-', '_', '.'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// An event's logical id: the method and the path's words, `GET /user/{username}` →
/// `GetUserUsername` (`/` → `Root`; `.well-known` and a file's extension left out).
fn event_name(method: &str, path: &str) -> String {
    let words: String = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".well-known")
        .map(|s| {
            let s = s.trim_start_matches('{').trim_end_matches('}');
            pascal(s.strip_suffix(".json").unwrap_or(s))
        })
        .collect();
    let words = if words.is_empty() {
        "Root".to_string()
    } else {
        words
    };
    pascal(&method.to_ascii_lowercase()) + &words
}

/// A YAML double-quoted scalar.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A variable from a Secrets Manager secret, when its condition holds.
fn secret_if(out: &mut String, var: &str, condition: &str, parameter: &str) {
    let _ = write!(
        out,
        "          {var}: !If\n            - {condition}\n            - !Sub \"{{{{resolve:secretsmanager:${{{parameter}}}:SecretString}}}}\"\n            - !Ref AWS::NoValue\n"
    );
}

/// The variables a function holds beyond the globals.
fn environment(f: &Function) -> String {
    let mut out = String::new();
    let hooks = f.hooks();
    for kind in &hooks {
        let upper = kind.to_ascii_uppercase();
        let _ = writeln!(
            out,
            "          {upper}_HOOK_URL: !If [Has{kind}Hook, !Ref {kind}HookUrl, !Ref AWS::NoValue]"
        );
        let _ = writeln!(
            out,
            "          {upper}_HOOK_ARN: !If [Has{kind}HookArn, !Ref {kind}HookArn, !Ref AWS::NoValue]"
        );
    }
    if !hooks.is_empty() {
        // One secret signs every hook URL a function asks: held when any of them is a URL.
        let condition = format!("Has{}Hook", hooks.join("Or"));
        let _ = write!(
            out,
            "          HOOK_SECRET: !If\n            - {condition}\n            - !Sub \"{{{{resolve:secretsmanager:${{HookSecretName}}:SecretString}}}}\"\n            - !Ref AWS::NoValue\n"
        );
    }
    if f.is_signing() {
        out.push_str(
            "          # The private keys: only the functions that sign tokens hold them.\n          \
             JWT_SIGNING_KEYS: !If\n            - UseHs512\n            - !Ref AWS::NoValue\n            \
             - !Sub \"{{resolve:secretsmanager:${JwtSigningKeysSecretName}:SecretString}}\"\n",
        );
    }
    if f.is_counting_login_names() {
        out.push_str(
            "          # Names of no account are kept as a MAC under this key (it refuses to start without it).\n          \
             LOGIN_NAME_KEY: !Sub \"{{resolve:secretsmanager:${LoginNameKeySecret}:SecretString}}\"\n",
        );
    }
    if f.is_holding_mfa_key() {
        secret_if(&mut out, "MFA_ENCRYPTION_KEY", "HasMfa", "MfaKeySecretName");
    }
    if f.is_holding_introspection_key() {
        secret_if(
            &mut out,
            "INTROSPECTION_KEY",
            "HasIntrospection",
            "IntrospectionKeySecretName",
        );
    }
    if f.is_calling_widgets() {
        out.push_str("          WIDGETS_API_URL: !Ref WidgetsApiUrl\n");
        secret_if(
            &mut out,
            "WIDGETS_API_KEY",
            "HasWidgets",
            "WidgetsApiKeySecretName",
        );
        out.push_str("          WIDGETS_TIMEOUT_MS: !Ref WidgetsTimeoutMs\n");
    }
    out
}

/// One `Allow` statement of the function's policy document.
fn statement(
    out: &mut String,
    comment: Option<&str>,
    actions: &[&str],
    resource: &str,
    condition: &str,
) {
    if let Some(comment) = comment {
        let _ = writeln!(out, "            # {comment}");
    }
    out.push_str("            - Effect: Allow\n              Action:\n");
    for a in actions {
        let _ = writeln!(out, "                - {a}");
    }
    let _ = writeln!(out, "              Resource: {resource}");
    out.push_str(condition);
}

const TABLE: &str = "!GetAtt UsersTable.Arn";

/// The function's policies: its hook's function, then one document of its statements.
fn policies(f: &Function) -> String {
    let mut statements = String::new();
    let puts = f.table.contains(&TableAction::PutItem);
    if f.is_recording_events() && !puts {
        statement(
            &mut statements,
            Some(
                "Its account events and nothing else: only items whose key starts EVENTS# or EVENT#.",
            ),
            &["dynamodb:PutItem"],
            TABLE,
            "              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"EVENTS#*\", \"EVENT#*\"]\n",
        );
    }
    if !f.table.is_empty() {
        let actions: Vec<&str> = f.table.iter().map(|a| a.iam()).collect();
        statement(&mut statements, None, &actions, TABLE, "");
    }
    if f.is_reading_account_events() {
        statement(
            &mut statements,
            Some("One account's events: only partitions whose key starts EVENTS#."),
            &["dynamodb:Query"],
            TABLE,
            "              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"EVENTS#*\"]\n",
        );
    }
    if f.is_querying_users_index() {
        statement(
            &mut statements,
            None,
            &["dynamodb:Query"],
            "!Sub \"${UsersTable.Arn}/index/users\"",
            "",
        );
    }
    if f.is_sending_mail() {
        statement(
            &mut statements,
            None,
            &["ses:SendEmail"],
            "!Sub \"arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*\"",
            "              Condition:\n                StringEquals:\n                  ses:FromAddress: !Ref SenderEmail\n",
        );
    }
    let hooks = f.hooks();
    if hooks.is_empty() && statements.is_empty() {
        return "      # No policy: it reads nothing but its own environment.\n".into();
    }
    let mut out = String::from("      Policies:\n");
    for kind in hooks {
        let _ = write!(
            out,
            "        # The {} hook, when it is a Lambda function: invoking it, and nothing else of Lambda.\n        \
             - !If\n          - Has{kind}HookArn\n          - Version: \"2012-10-17\"\n            \
             Statement:\n              - Effect: Allow\n                Action: lambda:InvokeFunction\n                \
             Resource: !Ref {kind}HookArn\n          - !Ref AWS::NoValue\n",
            kind.to_ascii_lowercase()
        );
    }
    if !statements.is_empty() {
        out.push_str("        - Version: \"2012-10-17\"\n          Statement:\n");
        out.push_str(&statements);
    }
    out
}

/// The security scanner's (checkov's) checks that do not apply to a function of the route
/// table, each with why (docs/security.md lists them).
pub const FUNCTION_SKIPS: [(&str, &str); 3] = [
    (
        "CKV_AWS_116",
        "Invoked synchronously by the HTTP API: a dead-letter queue takes only asynchronous events",
    ),
    (
        "CKV_AWS_117",
        "Calls only AWS APIs and HTTPS hooks: a VPC would add NAT cost and cold-start time, not protection",
    ),
    (
        "CKV_AWS_173",
        "Encrypted at rest with Lambda's AWS managed key; its secrets are resolved from Secrets Manager at deploy",
    ),
];

/// Why a function that hashes no password reserves no concurrency.
pub const CONCURRENCY_SKIP: (&str, &str) = (
    "CKV_AWS_115",
    "Bounded by the API's stage and route throttles; the functions that hash passwords reserve concurrency",
);

/// Why the log groups use CloudWatch Logs' own encryption.
pub const LOG_GROUP_SKIP: (&str, &str) = (
    "CKV_AWS_158",
    "Encrypted by CloudWatch Logs; nothing logged is a secret (no password, token or code is logged)",
);

/// `Metadata` lines skipping `skips` (at the resource's indentation plus two).
fn checkov(skips: &[(&str, &str)]) -> String {
    let mut out = String::from("      checkov:\n        skip:\n");
    for (id, why) in skips {
        let _ = write!(
            out,
            "          - id: {id}\n            comment: {}\n",
            quoted(why)
        );
    }
    out
}

/// A function's skips of the scanner's checks.
fn scanner_skips(f: &Function) -> String {
    let mut skips = FUNCTION_SKIPS.to_vec();
    if !f.is_hashing_passwords() {
        skips.push(CONCURRENCY_SKIP);
    }
    checkov(&skips)
}

/// One function's resources: the function, its log group, its alarm.
fn resources(f: &Function) -> String {
    assert!(
        !f.description.is_empty(),
        "{}: its row needs a .description()",
        f.name
    );
    let id = pascal(f.name);
    let mut out = String::new();
    let _ = write!(
        out,
        "  {id}Function:\n    Type: AWS::Serverless::Function\n    Metadata:\n      \
         BuildMethod: rust-cargolambda\n      BuildProperties:\n        Binary: {}\n{}    \
         Properties:\n      Description: {}\n      CodeUri: functions\n",
        f.name,
        scanner_skips(f),
        quoted(f.description)
    );
    if f.is_hashing_passwords() {
        out.push_str(
            "      # argon2id (19 MiB, t = 2) is CPU-bound and Lambda CPU scales with memory: see docs/deploying.md.\n      \
             MemorySize: 1024\n      \
             # At most HashingConcurrency at once: a flood of logins cannot run up the bill or take the\n      \
             # account's concurrency from the other functions (docs/deploying.md, cost guards).\n      \
             ReservedConcurrentExecutions: !If [ReserveHashingConcurrency, !Ref HashingConcurrency, !Ref AWS::NoValue]\n",
        );
    }
    let environment = environment(f);
    if !environment.is_empty() {
        out.push_str("      Environment:\n        Variables:\n");
        out.push_str(&environment);
    }
    out.push_str("      LoggingConfig:\n        LogFormat: JSON\n");
    out.push_str(&policies(f));
    out.push_str("      Events:\n");
    for route in f.routes {
        let _ = write!(
            out,
            "        {}:\n          Type: HttpApi\n          Properties:\n            ApiId: !Ref HttpApi\n            \
             Method: {}\n            Path: {}\n",
            event_name(route.method, route.path),
            route.method,
            route.path
        );
    }
    let _ = write!(
        out,
        "\n  {id}Logs:\n    Type: AWS::Logs::LogGroup\n    Metadata:\n{}    Properties:\n      \
         LogGroupName: !Sub \"/aws/lambda/${{{id}Function}}\"\n      \
         RetentionInDays: !Ref LogRetentionDays\n",
        checkov(&[LOG_GROUP_SKIP])
    );
    out.push_str(&alarm(&id, f.name));
    out
}

/// The function's alarm: its errors and throttles over 5 minutes (when FunctionAlarms is on).
fn alarm(id: &str, name: &str) -> String {
    let metric = |metric_id: &str, metric: &str| {
        format!(
            "        - Id: {metric_id}\n          MetricStat:\n            Metric:\n              \
             Namespace: AWS/Lambda\n              MetricName: {metric}\n              Dimensions:\n                \
             - Name: FunctionName\n                  Value: !Ref {id}Function\n            \
             Period: 300\n            Stat: Sum\n          ReturnData: false\n"
        )
    };
    format!(
        "\n  {id}Alarm:\n    Type: AWS::CloudWatch::Alarm\n    Condition: HasFunctionAlarms\n    \
         Properties:\n      AlarmDescription: !Sub \"${{AWS::StackName}}: the {name} function failed or was throttled\"\n      \
         Metrics:\n{}{}        - Id: failures\n          Expression: FILL(errors, 0) + FILL(throttles, 0)\n          \
         Label: errors and throttles\n          ReturnData: true\n      EvaluationPeriods: 1\n      \
         Threshold: !Ref FunctionErrorAlarmThreshold\n      ComparisonOperator: GreaterThanOrEqualToThreshold\n      \
         TreatMissingData: notBreaching\n      \
         AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]\n      \
         OKActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]\n",
        metric("errors", "Errors"),
        metric("throttles", "Throttles"),
    )
}

/// Every row's resources, in the table's order, between the markers.
pub fn render(functions: &[&Function]) -> String {
    let blocks: Vec<String> = functions.iter().map(|f| resources(f)).collect();
    format!("{BEGIN}\n\n{}\n{END}\n", blocks.join("\n"))
}

/// docs/contributing.md's marker lines around its table of functions.
pub const README_BEGIN: &str = "<!-- functions: from functions::FUNCTIONS -->";
pub const README_END: &str = "<!-- end of functions -->";

/// docs/contributing.md's table of functions: each row's name and routes, in the table's order, then the
/// publisher (no route).
pub fn readme_table(functions: &[&Function]) -> String {
    let mut out = format!("{README_BEGIN}\n| function | routes |\n|---|---|\n");
    for f in functions {
        let routes: Vec<String> = f
            .routes
            .iter()
            .map(|r| format!("`{} {}`", r.method, r.path))
            .collect();
        let _ = writeln!(out, "| `{}` | {} |", f.name, routes.join(", "));
    }
    out.push_str("| `publish-events` | none: invoked by the table's stream |\n");
    out.push_str(README_END);
    out.push('\n');
    out
}

/// `text` with what lies between the lines `begin` and `end` (both included) replaced by
/// `written`, which holds them.
fn between(
    text: &str,
    begin: &str,
    end: &str,
    written: &str,
    file: &str,
) -> Result<String, String> {
    let start = text
        .find(&format!("{begin}\n"))
        .ok_or_else(|| format!("{file}: the line {begin:?} is missing"))?;
    let stop = text[start..]
        .find(&format!("{end}\n"))
        .map(|at| start + at + end.len() + 1)
        .ok_or_else(|| format!("{file}: the line {end:?} is missing"))?;
    Ok(format!("{}{written}{}", &text[..start], &text[stop..]))
}

/// docs/contributing.md with its table of functions written anew.
pub fn rewrite_readme(readme: &str, functions: &[&Function]) -> Result<String, String> {
    between(
        readme,
        README_BEGIN,
        README_END,
        &readme_table(functions),
        "docs/contributing.md",
    )
}

/// `template` with what lies between its markers (the markers included) written anew.
pub fn rewrite(template: &str, functions: &[&Function]) -> Result<String, String> {
    between(template, BEGIN, END, &render(functions), "template.yaml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_the_method_and_the_paths_words() {
        for (method, path, name) in [
            ("GET", "/", "GetRoot"),
            ("GET", "/user/{username}", "GetUserUsername"),
            ("POST", "/activate/resend", "PostActivateResend"),
            ("GET", "/.well-known/jwks.json", "GetJwks"),
            (
                "GET",
                "/.well-known/openid-configuration",
                "GetOpenidConfiguration",
            ),
            (
                "POST",
                "/user/{username}/mfa/recovery-codes",
                "PostUserUsernameMfaRecoveryCodes",
            ),
        ] {
            assert_eq!(event_name(method, path), name);
        }
    }
}
