//! # session-derive
//!
//! `#[derive(SessionSchema)]` for [session-core](https://docs.rs/session-core): it turns a
//! struct with named fields into typed session keys. Use it through `session_core` (or a
//! framework adapter), which re-exports it with the `derive` feature (on by default); the
//! documentation and examples live on `session_core::SessionSchema`.
//!
//! The stages, one file each: `ast` reads the input into our own types, `attr` parses
//! `#[session(...)]`, `check` applies the rules that span fields, `expand` writes the code.

mod ast;
mod attr;
mod check;
mod expand;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `session_core::SessionSchema`: typed getters, setters, `has_*`, `delete_*` and key
/// constants on a generated `<Struct>Session` handle (named otherwise with
/// `#[session(handle = "...")]`). See `session_core::SessionSchema`.
#[proc_macro_derive(SessionSchema, attributes(session))]
pub fn derive_session_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
