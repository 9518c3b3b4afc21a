//! The whole path from `Cookie` headers to a loaded session (`SessionManager::session`, then
//! reads and `finish`) on a memory store and on the cookie store.
//! Properties checked: see `session_core::__fuzzing::session_load`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    session_core::__fuzzing::session_load(data);
});
