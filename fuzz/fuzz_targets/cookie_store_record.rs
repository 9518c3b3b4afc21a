//! The cookie store's record decoder: the input as a cookie value, and the input sealed under
//! the fixture's key so that the JSON payload parser sees it.
//! Properties checked: see `session_core::__fuzzing::cookie_store_record`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    session_core::__fuzzing::cookie_store_record(data);
});
