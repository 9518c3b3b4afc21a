//! Session ids: 256 random bits minted by the server, and the SHA-256 digest stores key by.

use std::cell::RefCell;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_chacha::ChaCha12Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Length of a session id in bytes (256 bits).
const ID_LEN: usize = 32;
/// Length of an id once encoded as base64url without padding.
const ENCODED_LEN: usize = 43;
/// What [`SessionId::forward_digest`] hashes before the id, so that its result can never be the
/// digest of any session id.
const FORWARD_DOMAIN: &[u8] = b"session-core forwarding pointer v1\0";

/// The domain string in front of an owner's name in [`IdDigest::owner_index`]: longer than an
/// id, so an index is never an id's digest.
const OWNER_INDEX_DOMAIN: &[u8] = b"session-core index of the sessions of one owner v1\0";

/// How many ids one thread's generator mints from a seed before it reseeds from the operating
/// system: 64 KiB of output, the threshold of `rand`'s `ThreadRng`.
const RESEED_AFTER: u32 = 2048;

thread_local! {
    /// This thread's id generator, once it has minted its first id.
    static GENERATOR: RefCell<Option<Generator>> = const { RefCell::new(None) };
}

/// A thread's ChaCha12 generator, with what decides when it must be reseeded. Not `Clone`
/// outside tests: a copy would mint the same ids.
#[cfg_attr(test, derive(Clone))]
struct Generator {
    rng: ChaCha12Rng,
    /// How many ids it has minted since it was seeded.
    minted: u32,
    /// The process it was seeded in. A `fork` copies the generator into the child as it is:
    /// without this, parent and child would mint the same ids.
    pid: u32,
}

impl Generator {
    /// The next id's bytes from `slot`'s generator, seeding it first (with `seed`) if it is
    /// missing, has minted [`RESEED_AFTER`] ids, or was seeded in another process than `pid`.
    fn mint(
        slot: &mut Option<Self>,
        pid: u32,
        seed: impl FnOnce() -> Result<[u8; 32], Error>,
    ) -> Result<[u8; ID_LEN], Error> {
        let generator = match slot {
            Some(generator) if generator.minted < RESEED_AFTER && generator.pid == pid => generator,
            slot => slot.insert(Self {
                rng: ChaCha12Rng::from_seed(seed()?),
                minted: 0,
                pid,
            }),
        };
        let mut bytes = [0u8; ID_LEN];
        generator.rng.fill_bytes(&mut bytes);
        generator.minted += 1;
        Ok(bytes)
    }
}

/// 32 bytes from the operating system's random number generator.
fn os_seed() -> Result<[u8; 32], Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(Error::Random)?;
    Ok(seed)
}

/// A session id: 256 bits from a CSPRNG seeded by the operating system.
///
/// The raw id only ever travels in the (signed) cookie; stores see its [`IdDigest`]. `Debug`
/// never prints it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SessionId([u8; ID_LEN]);

impl SessionId {
    /// Mints a fresh id from this thread's ChaCha12 generator, which is seeded (and every
    /// [`RESEED_AFTER`] ids reseeded) from the operating system's random number generator, like
    /// `rand`'s `ThreadRng`: one system call per 2048 ids instead of one per id. A failing OS
    /// generator is an error, never a weak id.
    ///
    /// The generator is also reseeded when the process id has changed since it was seeded: a
    /// child made by `fork` inherits its parent's generator, and would otherwise mint the
    /// parent's next ids. Reading the process id is a system call on glibc since 2.25 (about
    /// 0.1 µs here), small beside the HMAC and the store insert that follow every minted id;
    /// catching the fork itself (`pthread_atfork`, `MADV_WIPEONFORK`) would need `unsafe`.
    pub(crate) fn generate() -> Result<Self, Error> {
        let pid = std::process::id();
        GENERATOR
            .with(|generator| Generator::mint(&mut generator.borrow_mut(), pid, os_seed))
            .map(Self)
    }

    /// Twelve random bytes from the same generator as [`generate`](Self::generate): the nonce
    /// of an AES-GCM seal, which must never repeat under one key (fork-safe for the same
    /// reason ids are).
    pub(crate) fn nonce() -> Result<[u8; 12], Error> {
        let bytes = Self::generate()?.0;
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&bytes[..12]);
        Ok(nonce)
    }

    /// Parses the base64url form that [`encode`](Self::encode) produces; anything else is `None`.
    pub(crate) fn decode(text: &str) -> Option<Self> {
        if text.len() != ENCODED_LEN {
            return None;
        }
        let mut bytes = [0u8; ID_LEN];
        match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            Ok(ID_LEN) => Some(Self(bytes)),
            _ => None,
        }
    }

    /// The id as it travels in the cookie: base64url without padding.
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The digest stores key this session by.
    pub(crate) fn digest(&self) -> IdDigest {
        IdDigest(Sha256::digest(self.0).into())
    }

    /// Where the engine keeps the forwarding pointer of this id once it has been cycled: the
    /// SHA-256 of a fixed domain string followed by the id's bytes.
    ///
    /// It is computed from the raw id, not from [`digest`](Self::digest): only a request that
    /// holds the cookie can find the pointer, and a store dump (which holds digests) or a log
    /// line (which names digests) does not reveal it. The domain string makes the input longer
    /// than an id, so no id has this value as its digest: a client can never load a pointer as
    /// a session.
    pub(crate) fn forward_digest(&self) -> IdDigest {
        let mut hasher = Sha256::new();
        hasher.update(FORWARD_DOMAIN);
        hasher.update(self.0);
        IdDigest(hasher.finalize().into())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

/// The SHA-256 digest of a session id: what every store keys its records by.
///
/// A dump of a store holds only digests, so it contains no token an attacker could replay.
/// Its [`Display`](fmt::Display) form is 64 lowercase hex digits, fit for file names, Redis keys
/// and database columns.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdDigest([u8; 32]);

impl IdDigest {
    /// Where the engine keeps the index of the sessions of `owner` (see
    /// [`Session::set_owner`](crate::Session::set_owner)): the SHA-256 of a fixed domain string
    /// followed by the owner's name. The domain string is longer than an id, so no id has this
    /// value as its digest: a client can never load an index as a session.
    pub(crate) fn owner_index(owner: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(OWNER_INDEX_DOMAIN);
        hasher.update(owner.as_bytes());
        Self(hasher.finalize().into())
    }

    /// Builds a digest from its 32 raw bytes (for stores that read digests back).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0x0f)] as char);
        }
        out
    }

    /// Parses 64 hex digits (either case); anything else is `None`.
    pub fn from_hex(text: &str) -> Option<Self> {
        fn nibble(c: u8) -> Option<u8> {
            match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            }
        }
        let text = text.as_bytes();
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in text.chunks_exact(2).enumerate() {
            bytes[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Display for IdDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for IdDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdDigest({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_256_bits_and_round_trip_through_base64url() {
        let id = SessionId::generate().unwrap();
        let text = id.encode();
        assert_eq!(text.len(), ENCODED_LEN);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(SessionId::decode(&text), Some(id));
    }

    #[test]
    fn fresh_ids_differ() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_ne!(a, b);
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn ids_stay_unique_across_reseeds_and_threads() {
        let mint = || {
            (0..2 * RESEED_AFTER + 1)
                .map(|_| SessionId::generate().unwrap().0)
                .collect::<Vec<_>>()
        };
        // Each thread seeds its own generator: a fixed or shared seed would repeat ids here.
        let threads: Vec<_> = (0..4).map(|_| std::thread::spawn(mint)).collect();
        let mut seen = std::collections::HashSet::new();
        for ids in threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .chain([mint()])
        {
            for id in ids {
                assert!(seen.insert(id), "an id was minted twice");
            }
        }
        assert_eq!(seen.len(), 5 * (2 * RESEED_AFTER as usize + 1));
    }

    /// A forked child inherits its parent's generator as it is (here: a clone of the state),
    /// and must not mint the parent's next ids. The process id is passed in, since a test
    /// cannot fork without `unsafe`.
    #[test]
    fn a_forked_child_does_not_mint_its_parents_ids() {
        let (parent_pid, child_pid) = (100, 101);
        let fixed_seed = || Ok([7u8; 32]);
        let mut parent = None;
        Generator::mint(&mut parent, parent_pid, fixed_seed).unwrap();
        let mut child = parent.clone();

        let fresh_seed = || Ok([9u8; 32]);
        let from_parent = Generator::mint(&mut parent, parent_pid, fresh_seed).unwrap();
        let from_child = Generator::mint(&mut child, child_pid, fresh_seed).unwrap();
        assert_ne!(
            from_parent, from_child,
            "the child minted its parent's next id"
        );
        assert_eq!(
            child.as_ref().map(|g| (g.pid, g.minted)),
            Some((child_pid, 1))
        );

        // In the same process the generator is kept (no reseed per id): the parent's stream
        // continues where it was.
        let mut expected = ChaCha12Rng::from_seed([7u8; 32]);
        let mut bytes = [0u8; ID_LEN];
        expected.fill_bytes(&mut bytes);
        expected.fill_bytes(&mut bytes);
        assert_eq!(from_parent, bytes);
    }

    #[test]
    fn the_generator_reseeds_after_its_quota() {
        let mut slot = None;
        let mut seeds = 0;
        for _ in 0..2 * RESEED_AFTER + 1 {
            Generator::mint(&mut slot, 1, || {
                seeds += 1;
                Ok([seeds; 32])
            })
            .unwrap();
        }
        assert_eq!(seeds, 3);
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "short",
            &"A".repeat(42),
            &"A".repeat(44),
            &"!".repeat(43),
        ] {
            assert_eq!(SessionId::decode(bad), None, "{bad:?}");
        }
        // 43 chars whose last one carries bits past the 256th: not canonical.
        assert_eq!(SessionId::decode(&"_".repeat(43)), None);
    }

    #[test]
    fn digest_is_sha256_of_the_raw_bytes() {
        let id = SessionId([0u8; 32]);
        assert_eq!(
            id.digest().to_hex(),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
    }

    #[test]
    fn owner_indexes_are_per_owner_and_never_an_ids_digest() {
        const { assert!(OWNER_INDEX_DOMAIN.len() > 32) };
        let ada = IdDigest::owner_index("ada");
        assert_eq!(ada, IdDigest::owner_index("ada"));
        assert_ne!(ada, IdDigest::owner_index("bob"));
        assert_ne!(ada, IdDigest::owner_index("ada "));
    }

    #[test]
    fn forward_digest_is_stable_and_neither_the_digest_nor_derived_from_it() {
        let id = SessionId([0u8; 32]);
        let forward = id.forward_digest();
        assert_eq!(forward, id.clone().forward_digest());
        assert_ne!(forward, id.digest());
        let mut from_digest = Sha256::new();
        from_digest.update(FORWARD_DOMAIN);
        from_digest.update(id.digest().as_bytes());
        assert_ne!(forward.0, <[u8; 32]>::from(from_digest.finalize()));
        let other = SessionId::generate().unwrap();
        assert_ne!(other.forward_digest(), forward);
    }

    #[test]
    fn digest_hex_round_trips_and_debug_hides_the_id() {
        let id = SessionId::generate().unwrap();
        let digest = id.digest();
        assert_eq!(IdDigest::from_hex(&digest.to_hex()), Some(digest));
        assert_eq!(IdDigest::from_hex("zz"), None);
        assert!(!format!("{id:?}").contains(&id.encode()));
    }
}
