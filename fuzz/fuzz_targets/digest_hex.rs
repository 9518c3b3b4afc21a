//! `IdDigest::from_hex`: accepts exactly 64 hex digits and prints back their lowercase form.
//! Properties checked: see `session_core::__fuzzing::digest_hex`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    session_core::__fuzzing::digest_hex(data);
});
