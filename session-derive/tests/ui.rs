//! Compile-time behaviour of `#[derive(SessionSchema)]`: every supported feature compiles and
//! behaves (`ui/pass`), every mistake is a compile error with the message and span checked in
//! next to it (`ui/fail/*.stderr`; regenerate with `TRYBUILD=overwrite cargo test -p
//! session-derive --test ui`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
