//! What a store holds for one session ([`Record`]) and what a request changed ([`Changes`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// `time` without its sub-second part: the precision of every stored timestamp.
pub(crate) fn whole_seconds(time: OffsetDateTime) -> OffsetDateTime {
    time.replace_nanosecond(0).unwrap_or(time)
}

/// How many bytes `value` takes as compact JSON, without building the string.
pub(crate) fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing into the counter cannot fail, and session data (string keys) always serializes.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// Everything a store holds for one session.
///
/// Timestamps are whole seconds (UTC); the engine never produces sub-second parts, so stores may
/// keep seconds only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Record {
    /// The session's keys and their JSON values.
    pub data: Map<String, Value>,
    /// When the session was created; the absolute lifetime counts from here.
    #[serde(with = "time::serde::timestamp")]
    pub created_at: OffsetDateTime,
    /// When the session expires. A store must not return a record whose expiry has passed.
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
}

impl Record {
    /// A record holding `data`.
    pub fn new(
        data: Map<String, Value>,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Self {
        Self {
            data,
            created_at,
            expires_at,
        }
    }

    /// Whether the record's expiry is at or before `now`.
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at <= now
    }

    /// Applies `changes` to this record in place: the merge every store performs.
    pub fn apply(&mut self, changes: &Changes) {
        if changes.clear {
            self.data.clear();
        }
        for key in &changes.remove {
            self.data.remove(key);
        }
        for (key, value) in &changes.set {
            self.data.insert(key.clone(), value.clone());
        }
        self.expires_at = changes.expires_at;
    }
}

/// What a [`SessionStore::compare_and_set`](crate::SessionStore::compare_and_set) did.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Swap {
    /// The key held the expected value (or was absent, as expected) and now holds the new one
    /// (or is deleted).
    Swapped,
    /// The key held something else, which is carried here (`None`: the key was absent).
    /// Nothing was written.
    Conflict(Option<Value>),
    /// There is no live record under the id. Nothing was written.
    Missing,
}

impl Record {
    /// Sets `key` to `new` (`None`: deletes it) if it holds `expected` (`None`: if it is
    /// absent), else reports what it holds: the compare-and-set a store performs on a record it
    /// holds in memory or has read under a lock. Never returns [`Swap::Missing`]; the expiry is
    /// left alone.
    pub fn compare_and_set(
        &mut self,
        key: &str,
        expected: Option<&Value>,
        new: Option<&Value>,
    ) -> Swap {
        let current = self.data.get(key);
        if current != expected {
            return Swap::Conflict(current.cloned());
        }
        match new {
            Some(new) => self.data.insert(key.to_owned(), new.clone()),
            None => self.data.remove(key),
        };
        Swap::Swapped
    }
}

/// What one request changed in a session: the keys it set, the keys it deleted, whether it
/// cleared everything first, and the session's new expiry.
///
/// A store applies these as a per-key merge: keys not named here keep whatever a concurrent
/// request wrote to them. The order is: clear (if set), then `remove`, then `set`. A key never
/// appears in both `set` and `remove`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Changes {
    /// Remove every key before applying `set` (the request called `clear`).
    pub clear: bool,
    /// Keys to write, with their new values.
    pub set: Map<String, Value>,
    /// Keys to delete.
    pub remove: Vec<String>,
    /// The session's new expiry.
    pub expires_at: OffsetDateTime,
}

impl Changes {
    /// Changes that only move the expiry; fill in `set`, `remove` and `clear` as needed.
    pub fn expiry_only(expires_at: OffsetDateTime) -> Self {
        Self {
            clear: false,
            set: Map::new(),
            remove: Vec::new(),
            expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn apply_clears_then_removes_then_sets() {
        let t = OffsetDateTime::from_unix_timestamp(1_000).unwrap();
        let mut record = Record::new(
            json!({"a": 1, "b": 2, "c": 3}).as_object().unwrap().clone(),
            t,
            t,
        );
        let mut changes = Changes::expiry_only(t + time::Duration::seconds(5));
        changes.remove.push("a".into());
        changes.set.insert("b".into(), json!("two"));
        record.apply(&changes);
        assert_eq!(
            Value::Object(record.data.clone()),
            json!({"b": "two", "c": 3})
        );
        assert_eq!(record.expires_at.unix_timestamp(), 1_005);

        changes.clear = true;
        changes.remove.clear();
        record.apply(&changes);
        assert_eq!(Value::Object(record.data), json!({"b": "two"}));
    }

    #[test]
    fn compare_and_set_writes_only_over_the_expected_value() {
        let t = OffsetDateTime::from_unix_timestamp(1_000).unwrap();
        let mut record = Record::new(json!({"n": 1}).as_object().unwrap().clone(), t, t);
        assert_eq!(
            record.compare_and_set("n", Some(&json!(2)), Some(&json!(3))),
            Swap::Conflict(Some(json!(1)))
        );
        assert_eq!(
            record.compare_and_set("m", Some(&json!(1)), Some(&json!(3))),
            Swap::Conflict(None)
        );
        assert_eq!(
            record.compare_and_set("n", None, Some(&json!(3))),
            Swap::Conflict(Some(json!(1)))
        );
        assert_eq!(Value::Object(record.data.clone()), json!({"n": 1}));
        assert_eq!(
            record.compare_and_set("n", Some(&json!(1)), Some(&json!(2))),
            Swap::Swapped
        );
        assert_eq!(
            record.compare_and_set("m", None, Some(&json!("x"))),
            Swap::Swapped
        );
        assert_eq!(
            record.compare_and_set("n", Some(&json!(2)), None),
            Swap::Swapped
        );
        assert_eq!(Value::Object(record.data), json!({"m": "x"}));
    }

    #[test]
    fn serializes_timestamps_as_whole_seconds() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let record = Record::new(Map::new(), t, t + time::Duration::seconds(60));
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(
            text,
            r#"{"data":{},"created_at":1700000000,"expires_at":1700000060}"#
        );
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), record);
    }
}
