//! The typed layer: [`Key`], a session key that knows its value's type, and [`SessionSchema`],
//! the trait `#[derive(SessionSchema)]` implements to tie a struct to its generated handle.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::session::{Session, to_value};

/// A session key whose values are `T`.
///
/// `#[derive(SessionSchema)]` generates one per field (as associated constants of the generated
/// handle), but a `Key` works on any [`Session`] and can be declared by hand:
///
/// ```
/// use session_core::{Key, Session};
///
/// const VISITS: Key<u32> = Key::new("visits");
///
/// async fn count_visit(session: &Session) -> session_core::Result<u32> {
///     let visits = VISITS.get(session).await?.unwrap_or(0) + 1;
///     VISITS.set(session, &visits).await?;
///     // Or in one atomic step, which no concurrent request can undo:
///     let visits = VISITS.update(session, |n| n.unwrap_or(0) + 1).await?;
///     Ok(visits)
/// }
/// ```
pub struct Key<T> {
    name: &'static str,
    // `fn() -> T`: a key neither owns a `T` nor restricts the auto traits of the key itself.
    value: PhantomData<fn() -> T>,
}

impl<T> Key<T> {
    /// The key stored under `name`.
    #[must_use]
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            value: PhantomData,
        }
    }

    /// The name the value is stored under in the session.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

// Each method returns the session's own future rather than wrapping it in another `async fn`,
// so a typed access costs what the raw one does (see `benches/typed.rs`).
impl<T: Serialize + DeserializeOwned + Send> Key<T> {
    /// The value under this key; `None` if it is absent. See [`Session::get`].
    pub fn get(
        self,
        session: &Session,
    ) -> impl Future<Output = Result<Option<T>>> + Send + use<'_, T> {
        session.get(self.name)
    }

    /// Stores `value` under this key. See [`Session::set`]. The value is serialized before this
    /// returns; the future borrows only the session.
    pub fn set<'s>(
        self,
        session: &'s Session,
        value: &T,
    ) -> impl Future<Output = Result<()>> + Send + use<'s, T> {
        session.set_serialized(self.name, to_value(self.name, value))
    }

    /// Whether a value is stored under this key.
    pub fn has(self, session: &Session) -> impl Future<Output = Result<bool>> + Send + use<'_, T> {
        session.has(self.name)
    }

    /// The value under this key, removed from the session: it is returned once (a flash
    /// message). See [`Session::take`].
    pub fn take(
        self,
        session: &Session,
    ) -> impl Future<Output = Result<Option<T>>> + Send + use<'_, T> {
        session.take(self.name)
    }

    /// Replaces the value under this key with `f(old)` and returns it, without losing a
    /// concurrent update. See [`Session::update`].
    pub fn update<'s, F>(
        self,
        session: &'s Session,
        f: F,
    ) -> impl Future<Output = Result<T>> + Send + use<'s, T, F>
    where
        F: FnMut(Option<T>) -> T + Send + 's,
    {
        session.update(self.name, f)
    }

    /// Deletes this key; returns whether it was present.
    pub fn delete(
        self,
        session: &Session,
    ) -> impl Future<Output = Result<bool>> + Send + use<'_, T> {
        session.delete(self.name)
    }
}

impl<T> Clone for Key<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Key<T> {}

impl<T> fmt::Debug for Key<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Key").field(&self.name).finish()
    }
}

/// A struct whose fields are typed session keys; implement it with `#[derive(SessionSchema)]`.
///
/// # What the derive generates
///
/// A handle type named after the struct with `Session` appended (`Auth` → `AuthSession`), or
/// as `#[session(handle = "...")]` says, with the struct's visibility, wrapping a [`Session`] (`From<Session>`, `AsRef<Session>`, and
/// `Deref<Target = Session>` for the raw API). For each field `x: T` it has:
///
/// | item | type | notes |
/// |---|---|---|
/// | `X` | [`Key<T>`] | the key constant; `X.name()` is the stored key |
/// | `x()` | `Result<Option<T>>` | `Result<T>` with `default`; an `Option<T>` field gives `Option<T>` |
/// | `set_x(value: T)` | `Result<()>` | for an `Option<T>` field, `value` is a `T` |
/// | `has_x()` | `Result<bool>` | |
/// | `delete_x()` | `Result<bool>` | whether it had a value |
///
/// Accessors return `impl Future + Send` (await them), and `load_all()`/`save_all(&value)` read
/// and write the whole struct ([`SessionSchema::load`] and [`SessionSchema::save`]).
///
/// # Attributes
///
/// | attribute | on | effect |
/// |---|---|---|
/// | `#[session(prefix = "auth.")]` | struct | every key starts with the prefix, so two schemas can share a session |
/// | `#[session(handle = "AuthHandle")]` | struct | names the generated handle `AuthHandle` instead of `AuthSession` (when that name is taken, e.g. by axum-login's `AuthSession`) |
/// | `#[session(crate = "path")]` | struct | where to find session-core, if neither it nor an adapter is a direct dependency under its own name |
/// | `#[session(rename = "key")]` | field | the key (after the prefix) instead of the field name |
/// | `#[session(default)]` | field | the getter returns `T`, using `Default::default()` when absent |
/// | `#[session(default = "path")]` | field | the same, calling the function `path()` |
/// | `#[session(renew_on_change)]` | field | setting or deleting the field gives the session a new id in the same request (the login field) |
/// | `#[session(flash)]` | field | a flash message: the getter returns the value once and removes it ([`Key::take`]); `has_x()` looks without removing, and `load_all()` reads it without removing it |
///
/// Two fields with the same key, unknown, repeated or misplaced attributes, `default` on an
/// `Option` field, `flash` with `renew_on_change`, a `handle` that is not a type name or is the struct's own name, accessor names
/// that clash (`x` and `has_x`), generic structs, enums and tuple structs are compile errors, all
/// reported at once, each at the offending token. A type used as `TypedSession<T>` without the
/// derive is an error that says to add it.
///
/// # Example
///
/// ```
/// use session_core::SessionSchema;
///
/// #[derive(SessionSchema)]
/// #[session(prefix = "auth.")]
/// struct Auth {
///     #[session(renew_on_change)]
///     user_id: u64,
///     name: Option<String>,
///     #[session(default)]
///     visits: u32,
///     #[session(flash)]
///     notice: String,
/// }
///
/// async fn login(auth: &AuthSession) -> session_core::Result<()> {
///     auth.set_user_id(42).await?; // also gives the session a new id
///     auth.set_name("Ada".to_owned()).await?;
///     let visits: u32 = auth.visits().await? + 1; // `default`: no Option
///     auth.set_visits(visits).await?;
///     auth.set_notice("Welcome back, Ada".to_owned()).await?;
///     assert_eq!(AuthSession::USER_ID.name(), "auth.user_id");
///     Ok(())
/// }
///
/// // The next request shows the notice once.
/// async fn home(auth: &AuthSession) -> session_core::Result<Option<String>> {
///     auth.notice().await // `flash`: removed as it is read
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a session schema",
    label = "`{Self}` does not derive `SessionSchema`",
    note = "add `#[derive(SessionSchema)]` to the definition of `{Self}`: `TypedSession<{Self}>` \
            and the typed accessors are generated by it"
)]
pub trait SessionSchema: Sized + Send + Sync + 'static {
    /// The generated typed handle over a [`Session`].
    type Handle: From<Session> + AsRef<Session> + Clone + fmt::Debug + Send + Sync + 'static;

    /// The session keys of every field, after prefix and rename, in field order.
    const KEYS: &'static [&'static str];

    /// Reads every field at once. A missing field that is neither an `Option` nor has a default
    /// is an [`Error::MissingKey`](crate::Error::MissingKey); a value of the wrong type is an
    /// [`Error::WrongType`](crate::Error::WrongType); both name the key.
    fn load(session: &Session) -> impl Future<Output = Result<Self>> + Send;

    /// Writes every field at once (an `Option` field that is `None` deletes its key). Fields
    /// marked `renew_on_change` give the session a new id, as their setters do.
    fn save(&self, session: &Session) -> impl Future<Output = Result<()>> + Send;
}
