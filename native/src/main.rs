//! `meshdrop`: the native Meshdrop peer. Sends and receives files and chats with the
//! peers of a room (browsers or other `meshdrop` processes) over WebRTC.
//!
//! Layers, bottom up: [`signaling`] (the server WebSocket), [`link`] (one WebRTC
//! connection), [`mesh`] (one link per peer, newcomer offers), [`driver`] (the shared
//! transfer engine on tokio files), [`room`] (all of that per peer, plus the terminal
//! output of [`progress`]), and the [`command`]s chosen by [`cli`]. Every failure is an
//! [`error::Error`], turned into the exit status here and only here.

mod certificate;
mod cli;
mod command;
mod destination;
mod driver;
mod error;
mod history;
mod input;
mod link;
mod mesh;
mod outgoing;
mod partials;
mod progress;
mod room;
mod signaling;
mod verification;

use std::process::ExitCode;

use clap::Parser;

use certificate::DeviceCertificate;
use cli::{Cli, Command};
use error::{Error, EXIT_OK, EXIT_USAGE};

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
    let result = runtime.block_on(run(cli));
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

async fn run(cli: Cli) -> error::Result<()> {
    let config_dir = cli
        .config_dir
        .or_else(certificate::default_config_dir)
        .ok_or_else(|| {
            Error::Usage(
                "no config directory: set HOME or XDG_CONFIG_HOME, or pass --config-dir".into(),
            )
        })?;
    let device = DeviceCertificate::load_or_create(&config_dir)?;
    eprintln!("This device: {}", device.fingerprint);
    let device = command::Device {
        certificate: device,
        config_dir,
    };
    match cli.command {
        Command::Send(args) => command::send::run(args, device).await,
        Command::Receive(args) => command::receive::run(args, device).await,
        Command::Chat(args) => command::chat::run(args, device).await,
        Command::Seed(args) => command::send::seed(args, device).await,
    }
}
