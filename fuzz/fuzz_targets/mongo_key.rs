//! Session keys as MongoDB field names: escape/unescape round trips and canonical forms.
//! Properties checked: see `session_core::__fuzzing::mongo_key`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    session_core::__fuzzing::mongo_key(data);
});
