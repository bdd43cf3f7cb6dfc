//! openapi.json, written from the route table: each route's operation from its row's
//! [`Doc`](shared::api_doc::Doc) (the body, query and answers named by their Rust types, whose
//! schemas utoipa derives), and what is the same for every route (the info, the server, the
//! security schemes, the shared error answers) written here. `accounts openapi` writes the file;
//! the drift test fails, with that command, when the committed file is not what this writes.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use shared::api_doc::{Answer, Body, Doc, Schemas, Security};
use shared::lambda::Function;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::Parameter;
use utoipa::openapi::schema::Schema;

/// A header a shared error answer carries: its name, its JSON type, and whether it always does.
type ErrorHeader = Option<(&'static str, &'static str, bool)>;

/// The shared error answers: status, name in `components.responses`, description, and a
/// header it may carry.
const ERRORS: &[(u16, &str, &str, ErrorHeader)] = &[
    (400, "BadRequest", "Invalid input", None),
    (
        401,
        "Unauthorized",
        "Missing or invalid token",
        Some(("WWW-Authenticate", "string", true)),
    ),
    (
        403,
        "Forbidden",
        "Not allowed",
        Some(("WWW-Authenticate", "string", false)),
    ),
    (404, "NotFound", "No such user", None),
    (405, "MethodNotAllowed", "Method not allowed", None),
    (409, "Conflict", "Username or email taken", None),
    (410, "Gone", "Expired", None),
    (413, "PayloadTooLarge", "Body over 64 KiB", None),
    (
        415,
        "UnsupportedMediaType",
        "The body's Content-Type is not one the route reads (unsupported_media_type)",
        None,
    ),
    (
        429,
        "TooManyRequests",
        "Too many failed logins",
        Some(("Retry-After", "integer", true)),
    ),
    (502, "BadGateway", "The upstream failed", None),
    (
        503,
        "ServiceUnavailable",
        "A dependency is unavailable",
        None,
    ),
    (504, "GatewayTimeout", "The upstream timed out", None),
];

/// The OAuth endpoints' error answers (RFC 6749 section 5.2's body).
const OAUTH_ERRORS: &[(u16, &str, &str)] = &[
    (
        400,
        "OAuthBadRequest",
        "Invalid request, grant or grant type (RFC 6749 section 5.2)",
    ),
    (
        401,
        "OAuthInvalidClient",
        "The client is unknown or its authentication failed (invalid_client; \
         WWW-Authenticate: Basic)",
    ),
    (
        413,
        "OAuthPayloadTooLarge",
        "The body is over 64 KiB (invalid_request)",
    ),
    (
        415,
        "OAuthUnsupportedMediaType",
        "The body is neither a form nor JSON (invalid_request)",
    ),
];

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("a schema serializes")
}

fn schema_json(schema: RefOr<Schema>) -> Value {
    to_json(&schema)
}

fn content(entries: &[(&str, Value)]) -> Value {
    Value::Object(
        entries
            .iter()
            .map(|(kind, schema)| (kind.to_string(), json!({ "schema": schema })))
            .collect(),
    )
}

fn header(value: Option<&str>) -> Value {
    match value {
        Some(v) => json!({ "schema": { "type": "string", "enum": [v] } }),
        None => json!({ "schema": { "type": "string" } }),
    }
}

fn answer(a: &Answer, schemas: &mut Schemas) -> Value {
    let mut out = json!({ "description": a.description });
    let mut kinds = Vec::new();
    if let Some(json_schema) = a.json {
        kinds.push(("application/json", schema_json(json_schema(schemas))));
    }
    if let Some(html) = a.html {
        kinds.push(("text/html", schema_json(html(schemas))));
    }
    if a.script {
        kinds.push(("text/javascript", json!({ "type": "string" })));
    }
    if !kinds.is_empty() {
        out["content"] = content(&kinds);
    }
    if !a.headers.is_empty() {
        out["headers"] = Value::Object(
            a.headers
                .iter()
                .map(|h| (h.name.to_string(), header(h.value)))
                .collect(),
        );
    }
    out
}

fn request_body(body: &Body, schemas: &mut Schemas) -> Value {
    let mut kinds = Vec::new();
    if let Some(json_schema) = body.json {
        kinds.push(("application/json", schema_json(json_schema(schemas))));
    }
    if let Some(form) = body.form {
        let entry = (
            "application/x-www-form-urlencoded",
            schema_json(form(schemas)),
        );
        if body.form_first {
            kinds.insert(0, entry);
        } else {
            kinds.push(entry);
        }
    }
    json!({ "required": body.required, "content": content(&kinds) })
}

/// What a path's parameter names.
fn path_parameter_description(name: &str) -> &'static str {
    match name {
        "username" => "Matched case-insensitively.",
        "client_id" => "The client's id, as its registration answered it.",
        "id" => "The passkey's id, as its addition and the listing answer it.",
        other => panic!("path parameter {other} has no description here"),
    }
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            json!({
                "name": name,
                "in": "path",
                "required": true,
                "description": path_parameter_description(name),
                "schema": { "type": "string" }
            })
        })
        .collect()
}

fn operation(path: &str, doc: &Doc, schemas: &mut Schemas) -> Value {
    let mut op = json!({ "operationId": doc.id, "summary": doc.summary });
    if !doc.description.is_empty() {
        op["description"] = json!(doc.description);
    }
    let mut parameters = path_parameters(path);
    if let Some(query) = doc.query {
        parameters.extend(query().iter().map(|p: &Parameter| to_json(p)));
    }
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    if let Some(body) = &doc.body {
        op["requestBody"] = request_body(body, schemas);
    }
    let mut responses: BTreeMap<u16, Value> = BTreeMap::new();
    for a in doc.answers {
        let previous = responses.insert(a.status, answer(a, schemas));
        assert!(
            previous.is_none(),
            "{}: {} answered twice",
            doc.id,
            a.status
        );
    }
    for status in doc.errors {
        let name = doc
            .oauth_errors
            .then(|| OAUTH_ERRORS.iter().find(|e| e.0 == *status).map(|e| e.1))
            .flatten()
            .or_else(|| ERRORS.iter().find(|e| e.0 == *status).map(|e| e.1))
            .unwrap_or_else(|| panic!("{}: no shared answer for {status}", doc.id));
        let previous = responses.insert(
            *status,
            json!({ "$ref": format!("#/components/responses/{name}") }),
        );
        assert!(
            previous.is_none(),
            "{}: {status} both written and shared",
            doc.id
        );
    }
    op["responses"] = Value::Object(
        responses
            .into_iter()
            .map(|(status, v)| (status.to_string(), v))
            .collect(),
    );
    match doc.security {
        Security::None => {}
        Security::Bearer => op["security"] = json!([{ "bearerAuth": [] }]),
        Security::OptionalBearer => op["security"] = json!([{}, { "bearerAuth": [] }]),
        Security::IntrospectionKey => op["security"] = json!([{ "introspectionKey": [] }]),
    }
    op
}

fn error_schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn responses() -> Value {
    let mut out = serde_json::Map::new();
    for (_, name, description, header) in ERRORS {
        let mut r = json!({ "description": description, "content": content(&[("application/json", error_schema("Error"))]) });
        if let Some((h, kind, required)) = header {
            let mut spec = json!({ "schema": { "type": kind } });
            if !required {
                spec["required"] = json!(false);
            }
            r["headers"] = json!({ *h: spec });
        }
        out.insert(name.to_string(), r);
    }
    for (_, name, description) in OAUTH_ERRORS {
        out.insert(
            name.to_string(),
            json!({ "description": description, "content": content(&[("application/json", error_schema("OAuthError"))]) }),
        );
    }
    Value::Object(out)
}

/// The whole document of these functions' routes.
pub fn document(functions: &[&Function]) -> Value {
    let mut schemas = Schemas::new();
    shared::api_doc::error_schemas(&mut schemas);
    let mut paths = serde_json::Map::new();
    // OpenAPI asks each operationId to be unique (clients are generated from them).
    let mut ids = std::collections::BTreeSet::new();
    for function in functions {
        for route in function.routes {
            let doc = route
                .doc
                .as_ref()
                .unwrap_or_else(|| panic!("{} {} declares no doc", route.method, route.path));
            assert!(
                ids.insert(doc.id),
                "operationId {} is declared twice ({} {})",
                doc.id,
                route.method,
                route.path
            );
            let item = paths
                .entry(route.path.to_string())
                .or_insert_with(|| json!({}));
            item[route.method.to_ascii_lowercase()] = operation(route.path, doc, &mut schemas);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "accounts",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Sign-up, activation by mail, JWT sessions, user accounts and a widgets passthrough. See docs/api-behaviour.md for behaviour in detail."
        },
        "servers": [{ "url": "http://127.0.0.1:3000", "description": "accounts serve" }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" },
                "introspectionKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The introspection key (INTROSPECTION_KEY), not a user's token."
                }
            },
            "schemas": to_json(&schemas),
            "responses": responses()
        }
    })
}

/// The document as openapi.json holds it: pretty, with a final newline.
pub fn text(functions: &[&Function]) -> String {
    serde_json::to_string_pretty(&document(functions)).expect("json") + "\n"
}
