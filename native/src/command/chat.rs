//! `meshdrop chat`: every stdin line goes to everyone connected, or after `/to NAME` to
//! that peer alone until `/all` (`/clear` forgets the chat and its history); every line from them is printed on stdout as
//! `[HH:MM] name: text` (`name (private)` for a line to us alone). Who has each of our
//! lines is said on stderr as their acknowledgements arrive.
//!
//! Lines typed while nobody is connected yet are held and sent to the first peer that
//! connects, so `echo hi | meshdrop chat` does what it says. The run ends at end of
//! input or on Ctrl-C, after what was sent has been delivered. With `--history` the
//! room's chat is kept in the config directory, and its earlier lines are printed first.

use chrono::{DateTime, Local};
use meshdrop_protocol::PeerId;

use super::Device;
use crate::cli::ChatArgs;
use crate::error::Result;
use crate::history::History;
use crate::input;
use crate::room::{Room, RoomEvent};

/// Whom a line goes to: `None` for everyone, else one peer and its name.
type Recipient = Option<(PeerId, String)>;

pub async fn run(args: ChatArgs, device: Device) -> Result<()> {
    let config_dir = device.config_dir.clone();
    let mut room = super::join(&args.common, device, args.code.clone(), None).await?;
    if args.history {
        let history = History::of(&config_dir, room.room_id());
        room.keep_history(history).await?;
        for line in room.chat_lines() {
            let name = if line.mine { "You" } else { line.name.as_str() };
            let private = if line.is_private() { " (private)" } else { "" };
            room.ui().output(format!(
                "[{}] {name}{private}: {} (earlier)",
                clock(line.sent_at_ms),
                line.text
            ));
        }
    }
    let mut lines = input::lines();
    let mut held: Vec<(String, Recipient)> = Vec::new();
    let mut to: Recipient = None;
    let mut input_open = true;

    // Made once: a signal that arrives between two polls of a fresh `ctrl_c()` is lost.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    while input_open || !held.is_empty() {
        tokio::select! {
            event = room.recv() => {
                let Some(event) = event else { break };
                for event in room.handle(event).await {
                    if let RoomEvent::PairingFailed(error) = event {
                        room.leave().await;
                        return Err(error.into());
                    }
                    on_event(&mut room, event, &mut held).await;
                }
            }
            line = lines.recv(), if input_open => match line {
                Some(line) if line.trim().is_empty() => {}
                Some(line) if line.trim() == "/clear" => {
                    room.clear_chat().await;
                    room.ui().status("chat history cleared");
                }
                Some(line) if line.starts_with('/') => command(&room, &line, &mut to),
                Some(line) if !room.is_anyone_connected() => {
                    room.ui().status("nobody is connected yet; the line will go to the first peer");
                    held.push((line, to.clone()));
                }
                Some(line) => send(&mut room, line, &to).await,
                None => input_open = false,
            },
            _ = &mut interrupted => break,
        }
    }
    room.leave().await;
    Ok(())
}

/// `/to NAME` writes to that peer alone from now on; `/all` to everyone again.
fn command(room: &Room, line: &str, to: &mut Recipient) {
    let line = line.trim();
    if line == "/all" {
        *to = None;
        room.ui().status("writing to everyone");
        return;
    }
    let Some(name) = line.strip_prefix("/to ").map(str::trim) else {
        room.ui().status(format!(
            "unknown command {line:?}: /to NAME writes to one peer, /all to everyone, \
             /clear forgets the chat"
        ));
        return;
    };
    match &room.peers_named(name)[..] {
        [peer] => {
            *to = Some((peer.clone(), name.to_owned()));
            room.ui().status(format!(
                "writing to {name} alone; /all to write to everyone"
            ));
        }
        [] => room.ui().status(format!(
            "nobody connected is called {name:?}; still writing as before"
        )),
        _ => room.ui().status(format!(
            "several peers are called {name:?}; still writing as before"
        )),
    }
}

async fn send(room: &mut Room, line: String, to: &Recipient) {
    let peer = to.as_ref().map(|(peer, _)| peer.clone());
    if let Err(error) = room.chat(line, peer).await {
        room.ui().status(format!("not sent: {error}"));
    }
}

async fn on_event(room: &mut Room, event: RoomEvent, held: &mut Vec<(String, Recipient)>) {
    match event {
        RoomEvent::Chat {
            name,
            text,
            sent_at_ms,
            private,
        } => {
            let private = if private { " (private)" } else { "" };
            room.ui()
                .output(format!("[{}] {name}{private}: {text}", clock(sent_at_ms)))
        }
        RoomEvent::Connected { .. } => {
            for (line, to) in std::mem::take(held) {
                send(room, line, &to).await;
            }
        }
        RoomEvent::Transfer { .. }
        | RoomEvent::Disconnected { .. }
        | RoomEvent::Refused { .. }
        | RoomEvent::PairingFailed(_) => {}
    }
}

/// The sender's timestamp as local `HH:MM`.
fn clock(sent_at_ms: u64) -> String {
    i64::try_from(sent_at_ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .map(|time| time.with_timezone(&Local).format("%H:%M").to_string())
        .unwrap_or_else(|| "--:--".to_owned())
}
