//! A signed session-id cookie value: verified as is, and as edits applied to a real one.
//! Properties checked: see `session_core::__fuzzing::signed_id`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    session_core::__fuzzing::signed_id(data);
});
