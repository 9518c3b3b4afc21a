//! The per-owner index: which sessions belong to one user ([`Session::set_owner`]), so that they
//! can be listed ([`SessionManager::sessions_of`]) and revoked ("log out other devices", "log
//! out everywhere").
//!
//! The index of an owner is an ordinary record of the store, under
//! [`IdDigest::owner_index`], built only from the store contract every store honours: its data
//! holds [`OWNER_INDEX_KEY`] and one key per session, the session's digest in hex. Adding and
//! removing a session are per-key `apply`s (a `create` when the index does not exist yet), so
//! concurrent logins of one user on many devices keep every entry. The index is kept
//! consistent with the sessions lazily: every listing loads each session it names, and drops
//! the entries of sessions that have expired, were destroyed, or now belong to someone else.
//! Cycling an id moves its entry; destroying a session removes it.
//!
//! [`Session::set_owner`]: crate::Session::set_owner
//! [`SessionManager::sessions_of`]: crate::SessionManager::sessions_of

use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::error::Result;
use crate::id::IdDigest;
use crate::record::{Changes, Record};
use crate::session::{OWNER_KEY, SEEN_AT_KEY};
use crate::store::SessionStore;

/// The key every owner index holds (with the value `true`), so a store's records of sessions
/// and of owner indexes can be told apart: in SQL, count sessions with
/// `WHERE NOT data ? '__owner_index'` (PostgreSQL) or
/// `WHERE json_extract(data, '$.__owner_index') IS NULL` (SQLite).
pub const OWNER_INDEX_KEY: &str = "__owner_index";

/// How long an index lives after its owner's last login, listing or revocation. A session that
/// outlives its index (only possible with an idle-only expiry, used for over a year without its
/// owner logging in anywhere) drops out of the list.
const INDEX_LIFETIME: Duration = Duration::days(400);

/// How many entries an index may hold before a login also drops the entries of dead sessions
/// (a listing always does).
const PRUNE_AT: usize = 32;

/// How many times adding to an index retries the create-or-apply when another request creates
/// or the index expires in between.
const ADD_ATTEMPTS: u32 = 3;

/// One session of an owner, as [`SessionManager::sessions_of`](crate::SessionManager::sessions_of)
/// and [`Session::sessions`](crate::Session::sessions) list it.
///
/// The handle names the session to [`revoke`](crate::SessionManager::revoke): it is the
/// SHA-256 digest of the id in hex, as stores and logs name sessions, and cannot be turned back
/// into a cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session's handle: its id's digest, 64 hex digits.
    pub handle: String,
    /// When the session was created, or last cycled its id (login).
    pub created_at: OffsetDateTime,
    /// When a request last used it, to within the
    /// [touch interval](crate::SessionConfig::with_touch_interval).
    pub last_seen: OffsetDateTime,
    /// When it expires if not used again.
    pub expires_at: OffsetDateTime,
    /// Whether it is the session of the request that asked ([`Session::sessions`]); always
    /// `false` from [`SessionManager::sessions_of`].
    ///
    /// [`Session::sessions`]: crate::Session::sessions
    /// [`SessionManager::sessions_of`]: crate::SessionManager::sessions_of
    pub current: bool,
    /// The digest the handle spells.
    pub(crate) digest: IdDigest,
}

/// Puts `session` into the index of `owner`.
pub(crate) async fn add(
    store: &dyn SessionStore,
    owner: &str,
    session: &IdDigest,
    now: OffsetDateTime,
) -> Result<()> {
    let index = IdDigest::owner_index(owner);
    let mut changes = Changes::expiry_only(now.saturating_add(INDEX_LIFETIME));
    changes.set = Map::from_iter([
        (OWNER_INDEX_KEY.to_owned(), Value::Bool(true)),
        (session.to_hex(), Value::Bool(true)),
    ]);
    for _ in 0..ADD_ATTEMPTS {
        if store.apply(&index, &changes).await? {
            break;
        }
        let record = Record::new(changes.set.clone(), now, changes.expires_at);
        if store.create(&index, &record).await? {
            return Ok(());
        }
    }
    // A user who logs in often and never lists their sessions: drop the dead entries now and
    // then, so the index stays the size of their live sessions.
    if let Some(record) = store.load(&index).await?
        && record.data.len() > PRUNE_AT + 1
    {
        list(store, owner, now).await?;
    }
    Ok(())
}

/// Takes `session` out of the index of `owner`.
pub(crate) async fn remove(
    store: &dyn SessionStore,
    owner: &str,
    session: &IdDigest,
    now: OffsetDateTime,
) -> Result<()> {
    let mut changes = Changes::expiry_only(now.saturating_add(INDEX_LIFETIME));
    changes.remove.push(session.to_hex());
    // `false`: there is no index, so nothing to take out.
    store.apply(&IdDigest::owner_index(owner), &changes).await?;
    Ok(())
}

/// The live sessions of `owner`, oldest first; entries of sessions that are gone (expired,
/// destroyed, or given to another owner) are dropped from the index on the way.
pub(crate) async fn list(
    store: &dyn SessionStore,
    owner: &str,
    now: OffsetDateTime,
) -> Result<Vec<SessionInfo>> {
    let index = IdDigest::owner_index(owner);
    let Some(record) = store.load(&index).await? else {
        return Ok(Vec::new());
    };
    let mut live = Vec::new();
    let mut dead = Vec::new();
    for handle in record.data.keys().filter(|key| *key != OWNER_INDEX_KEY) {
        let Some(digest) = IdDigest::from_hex(handle) else {
            dead.push(handle.clone());
            continue;
        };
        let session = store
            .load(&digest)
            .await?
            .filter(|session| !session.is_expired_at(now))
            .filter(|session| session.data.get(OWNER_KEY).and_then(Value::as_str) == Some(owner));
        match session {
            Some(session) => live.push(SessionInfo {
                digest,
                handle: handle.clone(),
                created_at: session.created_at,
                last_seen: seen_at(&session.data).unwrap_or(session.created_at),
                expires_at: session.expires_at,
                current: false,
            }),
            None => dead.push(handle.clone()),
        }
    }
    if !dead.is_empty() {
        let mut changes = Changes::expiry_only(now.saturating_add(INDEX_LIFETIME));
        changes.remove = dead;
        store.apply(&index, &changes).await?;
    }
    live.sort_by(|a, b| (a.created_at, &a.handle).cmp(&(b.created_at, &b.handle)));
    Ok(live)
}

/// When the session holding `data` was last used, as the engine records it for owned sessions.
fn seen_at(data: &Map<String, Value>) -> Option<OffsetDateTime> {
    let seconds = data.get(SEEN_AT_KEY)?.as_i64()?;
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

/// Deletes the session `session` of `owner` and takes it out of the index; `false` if the
/// session is not `owner`'s (it is someone else's, or gone).
pub(crate) async fn revoke(
    store: &dyn SessionStore,
    owner: &str,
    session: &IdDigest,
    now: OffsetDateTime,
) -> Result<bool> {
    let owned = store
        .load(session)
        .await?
        .is_some_and(|record| record.data.get(OWNER_KEY).and_then(Value::as_str) == Some(owner));
    if owned {
        store.delete(session).await?;
        tracing::debug!(session = %session, "session revoked by its owner");
    }
    // Owned or not, the index of `owner` must not name it any more.
    remove(store, owner, session, now).await?;
    Ok(owned)
}

/// Deletes `sessions`, which [`list`] just found to be `owner`'s, and takes them out of the
/// index in one write; returns how many there were.
pub(crate) async fn revoke_listed(
    store: &dyn SessionStore,
    owner: &str,
    sessions: impl IntoIterator<Item = SessionInfo>,
    now: OffsetDateTime,
) -> Result<u64> {
    let mut changes = Changes::expiry_only(now.saturating_add(INDEX_LIFETIME));
    for info in sessions {
        store.delete(&info.digest).await?;
        tracing::debug!(session = %info.digest, "session revoked by its owner");
        changes.remove.push(info.handle);
    }
    let revoked = changes.remove.len() as u64;
    if revoked > 0 {
        store.apply(&IdDigest::owner_index(owner), &changes).await?;
    }
    Ok(revoked)
}
