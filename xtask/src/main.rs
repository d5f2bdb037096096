//! `cargo xtask`: the project's build and test automation.
//!
//! Written in Rust with only the standard library, so a machine with nothing but cargo can
//! run it: it installs every other tool it needs (see `tools`), then builds and tests.
//!
//! * `cargo xtask run`: build the web app and serve it with the signaling server on
//!   http://127.0.0.1:8080.
//! * `cargo xtask dist`: build the self-hosting binary, the server with the web app inside.
//! * `cargo xtask test`: build the web app, check formatting and lints, run every test.
//! * `cargo xtask bench`: build the web app and the native peer, then print speed, memory
//!   and latency figures (`cargo xtask bench SECTION...` for some of them; see `USAGE`).
//! * `cargo xtask load`: build the server, then print what a crowd of peers costs it.

mod apt;
mod error;
mod process;
mod tasks;
mod tools;
mod workspace;

use std::process::ExitCode;

use error::Error;

const USAGE: &str = "usage: cargo xtask <run|dist|test|bench|load>

  run    build the web app and serve it with the signaling server on http://127.0.0.1:8080
  dist   build target/release/meshdrop-server, the server with the web app inside
  test   build the web app, check formatting and lints, run every test
  bench  build the web app and the native peer, then print speed, memory and latency figures
         (bench SECTION... runs only those: page, transfers, memory, chat, discovery,
         recovery, relay, swarm, swarm-web, setup; profile runs only when named)
  load   build the server, then print joins/s, memory per idle peer and forwarded signals/s
         for 10,000 and 19,000 peers, and 100,000 on 6 nodes sharing rooms through Redis
         (load --peers N,N --nodes N --rate SIGNALS_PER_S --seconds S)";

fn main() -> ExitCode {
    tools::put_on_path();
    let task = std::env::args().nth(1);
    let result = match task.as_deref() {
        Some("run") => tasks::run(),
        Some("dist") => tasks::dist(),
        Some("test") => tasks::test(),
        Some("bench") => tasks::bench(std::env::args().skip(2).collect()),
        Some("load") => tasks::load(std::env::args().skip(2).collect()),
        _ => Err(Error::Usage(USAGE)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error}");
            ExitCode::FAILURE
        }
    }
}
