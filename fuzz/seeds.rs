//! Writes the seed corpora: `corpus/<target>/seed-<name>` for every seed of
//! `session_core::__fuzzing::seeds`, overwriting earlier seeds and leaving whatever the fuzzer
//! added. The cookies in them are minted under the fuzzing key ring, so the fuzzer starts past
//! the signatures it could never forge.
//!
//! `cargo run --release --manifest-path fuzz/Cargo.toml --bin seeds [CORPUS_DIR]`

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let seeds = session_core::__fuzzing::seeds();
    for seed in &seeds {
        let dir = root.join(seed.target);
        let path = dir.join(format!("seed-{}", seed.name));
        if let Err(error) =
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &seed.bytes))
        {
            eprintln!("seeds: cannot write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    }
    println!(
        "seeds: wrote {} seeds under {}",
        seeds.len(),
        root.display()
    );
    ExitCode::SUCCESS
}
