//! The example binaries' start-up: a bad setting stops each of them with one line on stderr
//! that names the variable, and a non-zero exit status, never a panic.

use std::process::{Command, Stdio};

/// Runs `binary` with `vars` and returns its exit success and its stderr.
fn run(binary: &str, vars: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(binary);
    command
        .env_remove("SESSION_STORE")
        .env_remove("SESSION_SECRET")
        .env_remove("SESSION_SECRET_PREVIOUS")
        .env_remove("SESSION_SECURE")
        .env("RUST_LOG", "error")
        .stdin(Stdio::null());
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn check(binary: &str) {
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("PORT", "eighty")],
            "error: PORT: `eighty` is not a port number",
        ),
        (
            &[("SESSION_STORE", "mysql://root:pw@db/app")],
            "error: SESSION_STORE: `mysql` is not a store",
        ),
        (
            &[("SESSION_SECURE", "yes")],
            "error: SESSION_SECURE: `yes` is not true or false",
        ),
        (
            &[("SESSION_SECRET", "too-short")],
            "error: SESSION_SECRET: ",
        ),
        // Nothing listens on port 1: the store cannot be opened.
        (
            &[("SESSION_STORE", "postgres://app:pw@127.0.0.1:1/app")],
            "error: SESSION_STORE: ",
        ),
    ];
    for (vars, expected) in cases {
        let (success, stderr) = run(binary, vars);
        assert!(!success, "{binary} {vars:?} started");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "{binary} {vars:?}: one line, got {stderr:?}"
        );
        assert!(
            lines[0].starts_with(expected),
            "{binary} {vars:?}: {stderr:?}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains("pw@"), "no password in {stderr:?}");
        assert!(!stderr.contains("too-short"), "no secret in {stderr:?}");
    }
}

#[test]
fn axum_refuses_bad_settings_in_one_line() {
    check(env!("CARGO_BIN_EXE_axum"));
}

#[test]
fn actix_refuses_bad_settings_in_one_line() {
    check(env!("CARGO_BIN_EXE_actix"));
}

#[test]
fn rocket_refuses_bad_settings_in_one_line() {
    check(env!("CARGO_BIN_EXE_rocket"));
}
