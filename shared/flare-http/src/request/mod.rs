//! Requests → domain commands, at the edge.
//!
//! JSON bodies are read strictly: unknown fields are refused and a syntax or type error names the field path,
//! line and column. Values stay strings until [`flare_core`]'s parsers check them, so that every invalid value
//! is reported at once, each under its field name. Form bodies (the intake form and form-encoded API calls) go
//! through the same inputs, so both paths apply the same rules.
//!
//! [`body`] reads bodies and headers (as axum extractors), [`fields`] turns values into domain types, and
//! [`open`], [`update`] and [`action`] hold each command's JSON and form shapes; [`query`] reads the read
//! endpoints' query strings.

mod action;
mod body;
mod fields;
mod open;
mod query;
mod update;

pub(crate) use action::{ActionJson, CloseForm, NoteJson, ReopenJson, ResolveJson};
pub(crate) use body::{
    FormBody, FormFields, IdempotencyKey, IfMatch, JsonOrEmpty, JsonOrForm, StrictJson, path_ticket,
};
pub(crate) use fields::RawSystem;
pub(crate) use open::{OpenForm, OpenJson};
pub(crate) use query::{bad_query, query_pairs};
pub(crate) use update::{UpdateForm, UpdateJson};
