//! Raw `Cookie` header bytes (one header per line) through the codec's cookie parser, then
//! signature verification and decryption of every candidate.
//! Properties checked: see `session_core::__fuzzing::cookie_header`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    session_core::__fuzzing::cookie_header(data);
});
