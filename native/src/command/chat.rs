//! `meshdrop chat`: every stdin line goes to everyone connected; every line from them is
//! printed on stdout as `[HH:MM] name: text`.
//!
//! Lines typed while nobody is connected yet are held and sent to the first peer that
//! connects, so `echo hi | meshdrop chat` does what it says. The run ends at end of
//! input or on Ctrl-C, after what was sent has been delivered.

use chrono::{DateTime, Local};

use super::Device;
use crate::cli::ChatArgs;
use crate::error::Result;
use crate::input;
use crate::room::{Room, RoomEvent};

pub async fn run(args: ChatArgs, device: Device) -> Result<()> {
    let mut room = super::join(&args.common, device, args.code.clone(), None).await?;
    let mut lines = input::lines();
    let mut held: Vec<String> = Vec::new();
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
                Some(line) if !room.is_anyone_connected() => {
                    room.ui().status("nobody is connected yet; the line will go to the first peer");
                    held.push(line);
                }
                Some(line) => {
                    room.chat(line, now_ms()).await;
                }
                None => input_open = false,
            },
            _ = &mut interrupted => break,
        }
    }
    room.leave().await;
    Ok(())
}

async fn on_event(room: &mut Room, event: RoomEvent, held: &mut Vec<String>) {
    match event {
        RoomEvent::Chat {
            name,
            text,
            sent_at_ms,
        } => room
            .ui()
            .output(format!("[{}] {name}: {text}", clock(sent_at_ms))),
        RoomEvent::Connected { .. } => {
            for line in held.drain(..) {
                room.chat(line, now_ms()).await;
            }
        }
        RoomEvent::Transfer { .. }
        | RoomEvent::Disconnected { .. }
        | RoomEvent::Refused { .. }
        | RoomEvent::PairingFailed(_) => {}
    }
}

fn now_ms() -> u64 {
    u64::try_from(Local::now().timestamp_millis()).unwrap_or_default()
}

/// The sender's timestamp as local `HH:MM`.
fn clock(sent_at_ms: u64) -> String {
    i64::try_from(sent_at_ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .map(|time| time.with_timezone(&Local).format("%H:%M").to_string())
        .unwrap_or_else(|| "--:--".to_owned())
}
