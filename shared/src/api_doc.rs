//! What each route declares for openapi.json: its operation (id, summary, description), the
//! body it reads, the query it takes, what it answers and with which credential. The types are
//! the source: a body or an answer is named by its Rust type, whose schema utoipa derives
//! (`#[derive(ToSchema)]`, doc comments as descriptions). `accounts openapi` assembles the
//! document from the route table (server/src/openapi.rs); what is not per route (the info, the
//! security schemes, the shared error answers) is written there.
//!
//! Everything here is `const`, so a route's row declares its document beside its handler:
//!
//! ```ignore
//! Route::post("/auth", |m| on(m, login)).doc(
//!     Doc::new("login", "Log in")
//!         .body(Body::json::<LoginBody>())
//!         .answers(&[Answer::json::<LoginOutcome>(200, "OK")])
//!         .errors(&[400, 401, 403, 413, 415, 429, 503]),
//! )
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;

use utoipa::openapi::path::Parameter;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

/// The named schemas a document collects as its operations name them.
pub type Schemas = BTreeMap<String, RefOr<Schema>>;

/// A type's schema: registers it (and every schema it refers to) and answers a reference to it,
/// or, for a type without a name (`String`), the schema itself.
pub type SchemaFn = fn(&mut Schemas) -> RefOr<Schema>;

/// A query's parameters (`IntoParams`).
pub type ParamsFn = fn() -> Vec<Parameter>;

fn named<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    schemas.extend(nested);
    let name: Cow<'static, str> = T::name();
    schemas.insert(name.to_string(), T::schema());
    RefOr::Ref(Ref::from_schema_name(name))
}

fn params<T: IntoParams>() -> Vec<Parameter> {
    T::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query))
}

fn html(_: &mut Schemas) -> RefOr<Schema> {
    <String as PartialSchema>::schema()
}

/// Who may call: the credential an operation's `security` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// No credential.
    None,
    /// A user's access token (`Authorization: Bearer`), required.
    Bearer,
    /// A user's access token, optional (it changes the answer).
    OptionalBearer,
    /// The introspection key (`INTROSPECTION_KEY`), not a user's token.
    IntrospectionKey,
}

/// The request body a route reads: JSON, a form, or either.
#[derive(Clone, Copy)]
pub struct Body {
    pub json: Option<SchemaFn>,
    pub form: Option<SchemaFn>,
    /// The form is listed first (an OAuth route: RFC 6749 sends forms).
    pub form_first: bool,
    pub required: bool,
}

impl Body {
    /// `application/json` of `T`.
    pub const fn json<T: ToSchema>() -> Body {
        Body {
            json: Some(named::<T>),
            form: None,
            form_first: false,
            required: true,
        }
    }

    /// `application/json` or `application/x-www-form-urlencoded`, both of `T`.
    pub const fn json_or_form<T: ToSchema>() -> Body {
        Body {
            json: Some(named::<T>),
            form: Some(named::<T>),
            form_first: false,
            required: true,
        }
    }

    /// An OAuth body: `application/x-www-form-urlencoded` (the standard's) or JSON, of `T`.
    pub const fn form_or_json<T: ToSchema>() -> Body {
        Body {
            json: Some(named::<T>),
            form: Some(named::<T>),
            form_first: true,
            required: true,
        }
    }

    /// `application/x-www-form-urlencoded` of `T` only (a page's form).
    pub const fn form<T: ToSchema>() -> Body {
        Body {
            json: None,
            form: Some(named::<T>),
            form_first: true,
            required: true,
        }
    }

    /// The body may be left out.
    pub const fn optional(mut self) -> Body {
        self.required = false;
        self
    }
}

/// A response header an answer sets: its name, and its value when it is always the same.
#[derive(Clone, Copy)]
pub struct Header {
    pub name: &'static str,
    pub value: Option<&'static str>,
}

impl Header {
    pub const fn new(name: &'static str) -> Header {
        Header { name, value: None }
    }
    pub const fn fixed(name: &'static str, value: &'static str) -> Header {
        Header {
            name,
            value: Some(value),
        }
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, as RFC 6749 section 5.1 asks of a token
/// answer.
pub const NO_STORE: &[Header] = &[
    Header::fixed("Cache-Control", "no-store"),
    Header::fixed("Pragma", "no-cache"),
];

/// `Cache-Control: public, max-age=300`: the public documents (keys, metadata).
pub const CACHED: &[Header] = &[Header::fixed("Cache-Control", "public, max-age=300")];

/// `503` of a route with pages: a page for a browser or a form post, JSON otherwise.
pub const PAGE_UNAVAILABLE: Answer = Answer::json::<ErrorBody>(
    503,
    "A dependency is unavailable (a page for a browser or a form post)",
)
.or_page();

/// One answer a route gives, by status: its description, its JSON body's type (none for an
/// empty answer), whether a browser gets a page instead, its headers.
#[derive(Clone, Copy)]
pub struct Answer {
    pub status: u16,
    pub description: &'static str,
    pub json: Option<SchemaFn>,
    pub html: Option<SchemaFn>,
    /// A script (`text/javascript`): the hosted pages' own.
    pub script: bool,
    pub headers: &'static [Header],
}

impl Answer {
    /// `status` with a JSON body of `T`.
    pub const fn json<T: ToSchema>(status: u16, description: &'static str) -> Answer {
        Answer {
            status,
            description,
            json: Some(named::<T>),
            html: None,
            script: false,
            headers: &[],
        }
    }

    /// `status` with no body.
    pub const fn empty(status: u16, description: &'static str) -> Answer {
        Answer {
            status,
            description,
            json: None,
            html: None,
            script: false,
            headers: &[],
        }
    }

    /// `status` with a page (`text/html`) only.
    pub const fn page(status: u16, description: &'static str) -> Answer {
        Answer {
            status,
            description,
            json: None,
            html: Some(html),
            script: false,
            headers: &[],
        }
    }

    /// `status` with a script (`text/javascript`).
    pub const fn script(status: u16, description: &'static str) -> Answer {
        Answer {
            status,
            description,
            json: None,
            html: None,
            script: true,
            headers: &[],
        }
    }

    /// A page (`text/html`) too, for a browser or a form post.
    pub const fn or_page(mut self) -> Answer {
        self.html = Some(html);
        self
    }

    pub const fn headers(mut self, headers: &'static [Header]) -> Answer {
        self.headers = headers;
        self
    }
}

/// A route's operation in openapi.json.
#[derive(Clone, Copy)]
pub struct Doc {
    /// `operationId`: unique, camelCase.
    pub id: &'static str,
    pub summary: &'static str,
    /// More than the summary says, or `""`.
    pub description: &'static str,
    pub body: Option<Body>,
    pub query: Option<ParamsFn>,
    /// Answers written here (successes, and errors a route describes its own way).
    pub answers: &'static [Answer],
    /// Error statuses answered as every route answers them (openapi.json's shared responses).
    pub errors: &'static [u16],
    /// Errors in RFC 6749 section 5.2's form (`error`, `error_description`).
    pub oauth_errors: bool,
    pub security: Security,
}

impl Doc {
    pub const fn new(id: &'static str, summary: &'static str) -> Doc {
        Doc {
            id,
            summary,
            description: "",
            body: None,
            query: None,
            answers: &[],
            errors: &[],
            oauth_errors: false,
            security: Security::None,
        }
    }

    /// The same operation under another id (a route's alias).
    pub const fn id(mut self, id: &'static str) -> Doc {
        self.id = id;
        self
    }

    pub const fn summary(mut self, summary: &'static str) -> Doc {
        self.summary = summary;
        self
    }

    pub const fn description(mut self, description: &'static str) -> Doc {
        self.description = description;
        self
    }

    pub const fn body(mut self, body: Body) -> Doc {
        self.body = Some(body);
        self
    }

    /// The query string's parameters, from `T`'s fields.
    pub const fn query<T: IntoParams>(mut self) -> Doc {
        self.query = Some(params::<T>);
        self
    }

    pub const fn answers(mut self, answers: &'static [Answer]) -> Doc {
        self.answers = answers;
        self
    }

    pub const fn errors(mut self, errors: &'static [u16]) -> Doc {
        self.errors = errors;
        self
    }

    /// Errors as an OAuth endpoint writes them.
    pub const fn oauth_errors(mut self) -> Doc {
        self.oauth_errors = true;
        self
    }

    pub const fn security(mut self, security: Security) -> Doc {
        self.security = security;
        self
    }

    /// A user's access token, required.
    pub const fn bearer(self) -> Doc {
        self.security(Security::Bearer)
    }
}

/// A schema for a value that is always `value` (an `enum` of one).
pub fn constant(value: serde_json::Value) -> Schema {
    let kind = match &value {
        serde_json::Value::Bool(_) => Type::Boolean,
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Type::Integer,
        serde_json::Value::Number(_) => Type::Number,
        _ => Type::String,
    };
    ObjectBuilder::new()
        .schema_type(kind)
        .enum_values(Some([value]))
        .build()
        .into()
}

/// The two error bodies (`Error`, `OAuthError`), which the shared answers name.
pub fn error_schemas(schemas: &mut Schemas) {
    named::<crate::error::ErrorBody>(schemas);
    named::<crate::error::OAuthErrorBody>(schemas);
}

/// A login's `scope`: space-delimited, or a list of the scopes.
pub fn scope_request() -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String))
        .item(
            ArrayBuilder::new().items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["widgets", "admin"])),
            ),
        )
        .build()
        .into()
}

/// `true`, always.
pub fn always_true() -> Schema {
    constant(true.into())
}

/// Every error's body, for an answer a route describes itself (a page route's errors).
pub use crate::error::ErrorBody;
