//! The example app on Rocket. Run it with `cargo run -p session-examples --bin rocket`, then
//! open <http://127.0.0.1:8000/>. Configuration: `PORT`, `SESSION_STORE`, `SESSION_SECRET`,
//! `SESSION_SECURE` (see the crate docs); Rocket's own `ROCKET_*` settings are not read.

use std::process::ExitCode;

use rocket::config::{Config, LogLevel};
use session_examples::{exit_with, rocket_app};
use session_rocket::SessionFairing;

#[rocket::main]
async fn main() -> ExitCode {
    let (settings, manager) = match session_examples::start().await {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    let config = Config {
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        port: settings.port,
        log_level: LogLevel::Critical,
        ..Config::release_default()
    };
    // Rocket prints "Rocket has launched from http://127.0.0.1:PORT" itself.
    let rocket = rocket::custom(config)
        .attach(SessionFairing::new(manager))
        .mount("/", rocket_app::routes());
    match rocket.launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => exit_with(&format!(
            "PORT: Rocket could not start on 127.0.0.1:{}: {error}",
            settings.port
        )),
    }
}
