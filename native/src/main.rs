//! `meshdrop`: the native Meshdrop peer. Sends and receives files and chats with the
//! peers of a room (browsers or other `meshdrop` processes) over WebRTC.
//!
//! Layers, bottom up: [`signaling`] (the server WebSocket), [`link`] (one WebRTC
//! connection), [`mesh`] (one link per peer, newcomer offers), [`driver`] (the shared
//! transfer engine on tokio files), [`room`] (all of that per peer, plus the terminal
//! output of [`progress`]), and the [`command`]s chosen by [`cli`]. Every failure is an
//! [`error::Error`], turned into the exit status here and only here.

mod cli;
mod command;
mod destination;
mod driver;
mod error;
mod input;
mod link;
mod mesh;
mod outgoing;
mod partials;
mod progress;
mod room;
mod signaling;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use error::{EXIT_OK, EXIT_USAGE};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are "errors" that print to stdout and succeeded.
            let code = if error.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error,meshdrop=warn".into()),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("meshdrop: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = runtime.block_on(run(cli.command));
    // Tasks still waiting on sockets have nothing left to say.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(error) => {
            eprintln!("meshdrop: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

async fn run(command: Command) -> error::Result<()> {
    match command {
        Command::Send(args) => command::send::run(args).await,
        Command::Receive(args) => command::receive::run(args).await,
        Command::Chat(args) => command::chat::run(args).await,
    }
}
