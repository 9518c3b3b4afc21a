//! A private (AES-256-GCM) cookie value: opened as is; sealed and opened as a plaintext; and as
//! edits applied to a real sealed value.
//! Properties checked: see `session_core::__fuzzing::private_cookie`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    session_core::__fuzzing::private_cookie(data);
});
