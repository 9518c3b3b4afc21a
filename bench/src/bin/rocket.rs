//! The load-test app on Rocket, on a Tokio runtime with one worker thread: ours or none (Rocket
//! has no peer). See the crate docs.

use std::process::ExitCode;

use rocket::config::{Config, LogLevel};
use rocket::{get, routes};
use session_bench::{Bench, Layer, fail};
use session_rocket::{Session, SessionError, SessionFairing};

#[get("/plain")]
fn plain() -> &'static str {
    "ok"
}

#[get("/read")]
async fn read(session: Session) -> Result<String, SessionError> {
    Ok(session_bench::read(&session).await?.to_string())
}

#[get("/write")]
async fn write(session: Session) -> Result<String, SessionError> {
    Ok(session_bench::write(&session).await?.to_string())
}

#[get("/read")]
fn read_none() -> &'static str {
    "0"
}

#[get("/write")]
fn write_none() -> &'static str {
    "1"
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error),
    };
    runtime.block_on(async {
        let bench = match Bench::from_env().await {
            Ok(bench) => bench,
            Err(error) => return error.exit(),
        };
        let config = Config {
            address: std::net::Ipv4Addr::LOCALHOST.into(),
            port: bench.port,
            workers: 1,
            log_level: LogLevel::Off,
            ..Config::release_default()
        };
        let rocket = rocket::custom(config);
        let rocket = match bench.layer {
            Layer::Ours(manager) => rocket
                .attach(SessionFairing::new(manager))
                .mount("/", routes![plain, read, write]),
            Layer::None => rocket.mount("/", routes![plain, read_none, write_none]),
            other => return other.mode().not_on("bench-rocket", "ours or none").exit(),
        };
        match rocket.launch().await {
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => fail(&error),
        }
    })
}
