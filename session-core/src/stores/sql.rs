//! What the SQL stores share: table-name validation ([`InvalidTableName`]), the errors that
//! give a failed query or connection its context without ever showing a password, and how a
//! damaged row is handled.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::error::BoxError;
use crate::id::IdDigest;

/// The table the SQL stores use unless told otherwise.
pub(crate) const DEFAULT_TABLE: &str = "sessions";

/// The longest identifier PostgreSQL keeps whole (`NAMEDATALEN - 1`); SQLite follows suit.
const MAX_IDENTIFIER_LEN: usize = 63;

/// How much of a refused name an error message repeats.
const SHOWN_NAME_LEN: usize = 80;

/// A session table name that was refused by `with_table_name`.
///
/// A table name is one identifier of ASCII letters, digits and `_`, not starting with a digit,
/// at most 63 bytes long (PostgreSQL also accepts `schema.table`, each part following the same
/// rule). Names are quoted in every statement, so they are case-sensitive and may be reserved
/// words such as `user`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the session table name {shown:?} is not valid: {reason}; use ASCII letters, digits and `_`, \
     not starting with a digit, at most 63 bytes{schema_hint}"
)]
pub struct InvalidTableName {
    shown: String,
    reason: &'static str,
    schema_hint: &'static str,
}

impl InvalidTableName {
    /// The refused name (cut short if it was very long).
    pub fn name(&self) -> &str {
        &self.shown
    }
}

/// A validated table name, with the quoted forms the statements use.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    /// The name as the user gave it, e.g. `auth.sessions`.
    name: String,
    /// `"auth"."sessions"`: safe to paste into SQL.
    quoted: String,
    /// The quoted name of the index on `expires_at`, without a schema (an index lives in its
    /// table's schema).
    index: String,
}

impl TableName {
    /// Validates `name`; `allow_schema` permits one `schema.` qualifier (PostgreSQL).
    pub(crate) fn parse(name: &str, allow_schema: bool) -> Result<Self, InvalidTableName> {
        let refuse = |reason| InvalidTableName {
            shown: shorten(name),
            reason,
            schema_hint: if allow_schema {
                ", optionally as `schema.table`"
            } else {
                ""
            },
        };
        let parts: Vec<&str> = name.split('.').collect();
        let table = match parts.as_slice() {
            [table] => table,
            [_, table] if allow_schema => table,
            [_, _] => return Err(refuse("schema-qualified names are not supported here")),
            _ => return Err(refuse("it has more than one `.`")),
        };
        for part in &parts {
            check_identifier(part).map_err(refuse)?;
        }
        let quoted = parts
            .iter()
            .map(|part| format!("\"{part}\""))
            .collect::<Vec<_>>()
            .join(".");
        Ok(Self {
            name: name.to_owned(),
            quoted,
            index: format!("\"{}\"", index_name(table)),
        })
    }

    /// The name as given.
    pub(crate) fn as_str(&self) -> &str {
        &self.name
    }

    /// The quoted (possibly schema-qualified) table name, ready for SQL.
    pub(crate) fn quoted(&self) -> &str {
        &self.quoted
    }

    /// The quoted name of the `expires_at` index.
    pub(crate) fn index(&self) -> &str {
        &self.index
    }
}

impl Default for TableName {
    fn default() -> Self {
        Self {
            name: DEFAULT_TABLE.to_owned(),
            quoted: format!("\"{DEFAULT_TABLE}\""),
            index: format!("\"{}\"", index_name(DEFAULT_TABLE)),
        }
    }
}

impl fmt::Debug for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.name, f)
    }
}

fn check_identifier(part: &str) -> Result<(), &'static str> {
    let mut bytes = part.bytes();
    match bytes.next() {
        None => return Err("it is empty or has an empty part"),
        Some(b) if !(b.is_ascii_alphabetic() || b == b'_') => {
            return Err("it must start with an ASCII letter or `_`");
        }
        Some(_) => {}
    }
    if !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err("it has a character other than an ASCII letter, digit or `_`");
    }
    if part.len() > MAX_IDENTIFIER_LEN {
        return Err("it is longer than 63 bytes");
    }
    Ok(())
}

/// `<table>_expires_at_idx`, kept within 63 bytes so PostgreSQL does not cut it (two long table
/// names sharing a prefix would then share an index name): a long table name is shortened and a
/// hash of the whole name keeps it unique.
fn index_name(table: &str) -> String {
    const SUFFIX: &str = "_expires_at_idx";
    if table.len() + SUFFIX.len() <= MAX_IDENTIFIER_LEN {
        return format!("{table}{SUFFIX}");
    }
    let hash = Sha256::digest(table.as_bytes());
    let hash: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    // ASCII-only (validated), so any byte index is a char boundary.
    let keep = MAX_IDENTIFIER_LEN - SUFFIX.len() - hash.len() - 1;
    format!("{}_{hash}{SUFFIX}", &table[..keep])
}

fn shorten(name: &str) -> String {
    match name.char_indices().nth(SHOWN_NAME_LEN) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}

/// A failed statement, with what the store was doing, where, and on which table.
#[derive(Debug, thiserror::Error)]
#[error("{backend} session store at {target}: {operation} on table `{table}` failed: {source}")]
pub(crate) struct QueryError {
    pub(crate) backend: &'static str,
    /// Where the database is, without credentials.
    pub(crate) target: String,
    pub(crate) operation: &'static str,
    pub(crate) table: String,
    #[source]
    pub(crate) source: sqlx::Error,
}

/// What was decoded from a row (its record, or one value of it), or `None` if the row is
/// damaged: logged at `warn` with the digest and the table, and treated as a missing session.
pub(crate) fn record_or_missing<T>(
    backend: &'static str,
    table: &TableName,
    id: &IdDigest,
    decoded: Result<T, BoxError>,
) -> Option<T> {
    decoded
        .inspect_err(|error| {
            tracing::warn!(
                digest = %id,
                table = table.as_str(),
                %error,
                "damaged session row in {backend}; treating the session as missing"
            );
        })
        .ok()
}

/// A connection that could not be made, naming where to but never the password.
#[derive(Debug, thiserror::Error)]
#[error("could not connect to the {backend} session database at {target}: {source}")]
pub(crate) struct ConnectError {
    pub(crate) backend: &'static str,
    pub(crate) target: String,
    #[source]
    pub(crate) source: sqlx::Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_accepted_and_quoted() {
        let table = TableName::parse("Sessions_2", false).unwrap();
        assert_eq!(table.as_str(), "Sessions_2");
        assert_eq!(table.quoted(), "\"Sessions_2\"");
        assert_eq!(table.index(), "\"Sessions_2_expires_at_idx\"");
        let table = TableName::parse("_x", false).unwrap();
        assert_eq!(table.quoted(), "\"_x\"");
        assert_eq!(
            TableName::default(),
            TableName::parse("sessions", false).unwrap()
        );
    }

    #[test]
    fn schema_qualified_names_only_where_allowed() {
        let table = TableName::parse("auth.sessions", true).unwrap();
        assert_eq!(table.quoted(), "\"auth\".\"sessions\"");
        assert_eq!(table.index(), "\"sessions_expires_at_idx\"");
        assert!(TableName::parse("auth.sessions", false).is_err());
        assert!(TableName::parse("a.b.c", true).is_err());
        assert!(TableName::parse(".sessions", true).is_err());
        assert!(TableName::parse("auth.", true).is_err());
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        for bad in [
            "",
            "1sessions",
            "x; DROP TABLE y",
            "x\"; DROP TABLE y; --",
            "it's",
            "a-b",
            "a b",
            "ключ",
            "a\0b",
            &"a".repeat(64),
        ] {
            let error = TableName::parse(bad, true).expect_err(bad);
            let message = error.to_string();
            assert!(message.contains("not valid"), "{message}");
            assert!(message.contains("schema.table"), "{message}");
        }
        assert!(TableName::parse(&"a".repeat(63), false).is_ok());
        let long = "x".repeat(500);
        let error = TableName::parse(&long, false).unwrap_err();
        assert!(error.name().len() < 100);
        assert!(!error.to_string().contains("schema.table"));
    }

    #[test]
    fn index_names_of_long_tables_stay_short_and_distinct() {
        let a = TableName::parse(&format!("{}a", "t".repeat(62)), false).unwrap();
        let b = TableName::parse(&format!("{}b", "t".repeat(62)), false).unwrap();
        assert_ne!(a.index(), b.index());
        assert_eq!(a.index().len(), MAX_IDENTIFIER_LEN + 2);
    }
}
