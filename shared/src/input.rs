//! Typed request bodies. Each route's body is a struct (serde), its rules declared on its fields
//! (garde), and [`Body`] reads it from JSON or a form. A body is validated by the domain where
//! the route's order puts it (after the checks of who may ask, where those come first), and
//! its [`Validate::validate`] gives the typed command the domain works with, or the `400`
//! `validation_failed` answer with every field's first error.
//!
//! A member is absent, of another JSON type, or given: three cases ([`Field`]), each with its
//! own message ("is required", "must be a string", then the field's rules).

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::{JsonObject, JsonOrForm};
use crate::password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use crate::user::MAX_DATA_BYTES;

/// A member of a request body as it arrived.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<T> {
    #[default]
    Missing,
    /// Present, but not a `T` (a number where a string belongs, `null`, ...).
    Wrong,
    Given(T),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(serde_json::from_value(value).map_or(Field::Wrong, Field::Given))
    }
}

impl<T> Field<T> {
    pub fn given(&self) -> Option<&T> {
        match self {
            Field::Given(t) => Some(t),
            _ => None,
        }
    }

    pub fn is_present(&self) -> bool {
        !matches!(self, Field::Missing)
    }
}

impl Field<String> {
    /// The string, once validation has required it.
    pub fn into_string(self) -> String {
        match self {
            Field::Given(s) => s,
            _ => String::new(),
        }
    }
}

/// A body with declared rules, and the command it makes once they hold.
pub trait Validate: garde::Validate + Sized {
    type Command;

    /// The command this body makes; only called once every rule holds.
    fn command(self) -> Self::Command;

    /// Checks every rule: the command, or `400` with each field's first error.
    fn validate(self) -> ApiResult<Self::Command>
    where
        Self::Context: Default,
    {
        self.validate_with(&Default::default())
    }

    /// As [`Validate::validate`], for rules that need to know more than the body (`context`).
    fn validate_with(self, context: &Self::Context) -> ApiResult<Self::Command> {
        match garde::Validate::validate_with(&self, context) {
            Ok(()) => Ok(self.command()),
            Err(report) => {
                let mut errors = FieldErrors::new();
                for (path, error) in report.iter() {
                    errors
                        .entry(path.to_string())
                        .or_insert_with(|| error.message().to_string());
                }
                Err(ApiError::Validation(errors))
            }
        }
    }
}

/// A route's typed body, from a JSON object (at most 64 KiB, as every body), or from a form
/// where the route takes one ([`Body::from_form`] tells which it was).
pub struct Body<T> {
    pub body: T,
    pub from_form: bool,
}

fn typed<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, ApiError> {
    // Every member is a `Field` or a flattened map: any object is one of these bodies.
    serde_json::from_value(Value::Object(map)).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonObject(map) = JsonObject::from_request(req, state).await?;
        Ok(Body {
            body: typed(map)?,
            from_form: false,
        })
    }
}

/// A typed body that may be left out (`DELETE` with a proof, say): no body at all reads as
/// the type's default (every member absent); a body must be a JSON object as [`Body`]'s, sent
/// as one (`415` otherwise).
pub struct OptionalBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let json = crate::http::require_json(req.headers());
        let bytes = crate::http::bounded_body(req).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(T::default()));
        }
        json?;
        Ok(OptionalBody(typed(crate::http::json_object(&bytes)?)?))
    }
}

/// A route's typed body from JSON or from an HTML form.
pub struct FormBody<T>(pub Body<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for FormBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form = JsonOrForm::from_request(req, state).await?;
        Ok(FormBody(Body {
            body: typed(form.body)?,
            from_form: form.from_form,
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Rules: each with the project's own message (docs/API.md lists them).

fn fail(message: impl Into<String>) -> garde::Result {
    Err(garde::Error::new(message.into()))
}

/// Present, and a string.
pub fn required_string<C>(field: &Field<String>, _: &C) -> garde::Result {
    match field {
        Field::Missing => fail("is required"),
        Field::Wrong => fail("must be a string"),
        Field::Given(_) => Ok(()),
    }
}

/// Absent: a member that cannot be set through this route.
pub fn absent<C>(message: &'static str) -> impl Fn(&Field<Value>, &C) -> garde::Result {
    move |field, _| {
        if field.is_present() {
            fail(message)
        } else {
            Ok(())
        }
    }
}

/// A rule on the string once given (absent or mistyped is `required_string`'s to say).
pub fn when_given<C>(
    rule: impl Fn(&str) -> bool,
    message: impl Fn() -> String,
) -> impl Fn(&Field<String>, &C) -> garde::Result {
    move |field, _| match field.given() {
        Some(s) if !rule(s) => fail(message()),
        _ => Ok(()),
    }
}

/// At most [`MAX_PASSWORD_CHARS`]: a password to verify (longer than any can be is refused
/// before any hashing).
pub fn password_to_verify<C>(field: &Field<String>, context: &C) -> garde::Result {
    when_given(
        |p| p.chars().count() <= MAX_PASSWORD_CHARS,
        || format!("must be at most {MAX_PASSWORD_CHARS} characters"),
    )(field, context)
}

/// [`MIN_PASSWORD_CHARS`] to [`MAX_PASSWORD_CHARS`]: a new password (the sign-up rule; its
/// strength is checked where it is hashed).
pub fn a_new_password<C>(field: &Field<String>, context: &C) -> garde::Result {
    when_given(
        |p| (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&p.chars().count()),
        || format!("must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
    )(field, context)
}

/// The serialized profile data is at most [`MAX_DATA_BYTES`].
pub fn data_size<C>(data: &Map<String, Value>, _: &C) -> garde::Result {
    let size = serde_json::to_vec(data).map_or(usize::MAX, |v| v.len());
    let max = MAX_DATA_BYTES;
    if size > max {
        fail(format!("profile data must be at most {max} bytes"))
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Query strings

/// A route's query string, read into `T` as bodies are read into theirs: each member a type
/// that parses itself ([`QueryValue`], with the route's own message), a member given twice
/// refused (which one counts is no guess), members of no interest ignored. The result is kept
/// for the route to look at in its own order (who may ask comes first), so this extractor never
/// refuses a request itself; a query that does not read is `400 invalid_query`.
pub struct Query<T>(pub ApiResult<T>);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Query<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Query(read_query(parts.uri.query().unwrap_or(""))))
    }
}

/// Reads a query string into `T` (see [`Query`]).
fn read_query<T: DeserializeOwned>(query: &str) -> ApiResult<T> {
    serde_urlencoded::from_str(query).map_err(|e| {
        let message = e.to_string();
        // serde's own words for a member given twice: "duplicate field `limit`".
        let message = match message
            .strip_prefix("duplicate field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            Some(name) => format!("{name} is given more than once."),
            None => message,
        };
        ApiError::InvalidQuery(message)
    })
}

/// A member of a query string that parses itself; its error is the message the client reads.
pub trait QueryValue: Sized {
    fn parse(value: &str) -> Result<Self, String>;
}

/// A query member that must parse when given (even empty).
pub fn query_value<'de, D: Deserializer<'de>, T: QueryValue>(d: D) -> Result<T, D::Error> {
    let value = String::deserialize(d)?;
    T::parse(&value).map_err(serde::de::Error::custom)
}

/// A query member that is absent when given empty (`cursor=`), and must parse otherwise.
pub fn empty_is_none<'de, D: Deserializer<'de>, T: QueryValue>(
    d: D,
) -> Result<Option<T>, D::Error> {
    let value = String::deserialize(d)?;
    if value.is_empty() {
        return Ok(None);
    }
    T::parse(&value).map(Some).map_err(serde::de::Error::custom)
}

/// A page's size: a whole number from 1 to [`Limit::MAX`], digits only, 25 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub usize);

impl Limit {
    pub const DEFAULT: usize = 25;
    pub const MAX: usize = 100;
}

impl Default for Limit {
    fn default() -> Self {
        Limit(Limit::DEFAULT)
    }
}

impl QueryValue for Limit {
    fn parse(value: &str) -> Result<Self, String> {
        Some(value)
            .filter(|v| !v.is_empty() && v.len() <= 3 && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| (1..=Limit::MAX).contains(n))
            .map(Limit)
            .ok_or_else(|| format!("limit must be a whole number from 1 to {}.", Limit::MAX))
    }
}

#[cfg(test)]
mod query_tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Listing {
        #[serde(default, deserialize_with = "query_value")]
        limit: Limit,
        #[serde(default, deserialize_with = "empty_is_none")]
        other: Option<Limit>,
    }

    fn message(query: &str) -> String {
        match read_query::<Listing>(query) {
            Err(ApiError::InvalidQuery(m)) => m,
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn a_query_reads_into_its_type_with_the_members_own_words() {
        let read = read_query::<Listing>("limit=7&unknown=1&unknown=2&other=").unwrap();
        assert_eq!((read.limit, read.other), (Limit(7), None));
        assert_eq!(read_query::<Listing>("").unwrap().limit, Limit(25));
        for bad in [
            "limit=0",
            "limit=101",
            "limit=x",
            "limit=",
            "limit=0005",
            "limit=%2B5",
        ] {
            assert_eq!(
                message(bad),
                "limit must be a whole number from 1 to 100.",
                "{bad}"
            );
        }
        assert_eq!(message("limit=5&limit=6"), "limit is given more than once.");
        assert_eq!(message("other=&other=3"), "other is given more than once.");
    }
}
