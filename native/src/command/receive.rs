//! `meshdrop receive`: wait for offers, accept them (asking first unless `--yes`) and
//! save the files in `--dir`.
//!
//! Without `--stay` the run ends once a transfer ended and none is left offered or
//! running (a folder too large for one offer comes as several), and the worst outcome
//! is the exit status; with it, `meshdrop` keeps receiving until Ctrl-C. Files that
//! came by a swarm are passed on: a run whose files all arrived stays while another
//! member of the swarm still lacks blocks, for at most [`LINGER`]. Questions are
//! asked one at a time on stderr and answered with a line on stdin; an offer still
//! waiting when stdin ends is declined, since nobody is left to answer it.

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::time::Duration;

use meshdrop_protocol::frame::TransferId;
use meshdrop_protocol::PeerId;
use meshdrop_transfer::{Direction, TransferState};
use tokio::sync::mpsc;

use super::Device;
use crate::cli::ReceiveArgs;
use crate::error::{Error, Result};
use crate::input;
use crate::room::{describe, Room, RoomEvent};

/// How long a run whose files all arrived stays to pass blocks on to the swarm.
const LINGER: Duration = Duration::from_secs(60);

/// An offer waiting for the user's answer.
type Question = (PeerId, TransferId);

pub async fn run(args: ReceiveArgs, device: Device) -> Result<()> {
    check_directory(&args.dir)?;
    let mut room = super::join(
        &args.common,
        device,
        args.code.clone(),
        Some(args.dir.clone()),
    )
    .await?;
    let mut answers = (!args.yes).then(input::lines);
    let mut questions: VecDeque<Question> = VecDeque::new();
    let mut open = Incoming::default();
    let mut outcome: Option<Result<()>> = None;
    if args.corrupt_served {
        room.corrupt_served();
    }
    let mut linger_until = None;

    // Made once: a signal that arrives between two polls of a fresh `ctrl_c()` is lost.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        if let Some(result) = &outcome {
            let passing_on = result.is_ok() && room.serving_others();
            if !passing_on {
                break;
            }
            if linger_until.is_none() {
                room.ui()
                    .status("passing blocks on to the others in the swarm");
            }
            let until = *linger_until.get_or_insert_with(|| tokio::time::Instant::now() + LINGER);
            if tokio::time::Instant::now() >= until {
                break;
            }
        }
        tokio::select! {
            event = room.recv() => {
                let Some(event) = event else { break };
                let events = room.handle(event).await;
                let result = on_events(&mut room, &args, &mut questions, &mut open, events).await;
                outcome = outcome.or(result);
            }
            () = tokio::time::sleep_until(linger_until.unwrap_or_else(tokio::time::Instant::now)),
                if linger_until.is_some() => {}
            answer = next_answer(&mut answers), if !questions.is_empty() => {
                let (peer, transfer) = questions.pop_front().expect("not empty");
                let accepted = answer.as_deref().is_some_and(is_yes);
                let events = if accepted {
                    room.accept(&peer, transfer).await
                } else {
                    room.decline(&peer, transfer).await
                };
                if answer.is_none() {
                    answers = None;
                }
                let result = on_events(&mut room, &args, &mut questions, &mut open, events).await;
                outcome = outcome.or(result);
                if outcome.is_none() {
                    ask_next(&room, &questions);
                }
            }
            _ = &mut interrupted => {
                let events = room.cancel_all("cancelled by the receiver").await;
                let result = on_events(&mut room, &args, &mut questions, &mut open, events).await;
                outcome = outcome.or(result);
                break;
            }
        }
    }
    room.leave().await;
    outcome.unwrap_or(Ok(()))
}

fn check_directory(dir: &Path) -> Result<()> {
    let output_error = |source| Error::OutputDir {
        path: dir.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(dir).map_err(output_error)?;
    if !metadata.is_dir() {
        return Err(output_error(std::io::Error::other("not a directory")));
    }
    Ok(())
}

/// The incoming transfers not ended yet, and the outcome of those that ended.
#[derive(Default)]
struct Incoming {
    open: HashSet<(PeerId, TransferId)>,
    outcome: Option<Result<()>>,
}

impl Incoming {
    /// Notes `transfer`'s new state; once it ended, returns the run's outcome if no
    /// other is left: the first failure, or success.
    fn update(
        &mut self,
        room: &Room,
        peer: PeerId,
        transfer: TransferId,
        state: TransferState,
    ) -> Option<Result<()>> {
        if !state.is_final() {
            self.open.insert((peer, transfer));
            return None;
        }
        self.open.remove(&(peer.clone(), transfer));
        let result = result_of(room.name(&peer), state);
        if self.outcome.as_ref().is_none_or(Result::is_ok) {
            self.outcome = Some(result);
        }
        self.open
            .is_empty()
            .then(|| self.outcome.take().unwrap_or(Ok(())))
    }
}

/// React to what happened; returns the run's outcome once it is over.
async fn on_events(
    room: &mut Room,
    args: &ReceiveArgs,
    questions: &mut VecDeque<Question>,
    open: &mut Incoming,
    events: Vec<RoomEvent>,
) -> Option<Result<()>> {
    let mut pending = VecDeque::from(events);
    while let Some(event) = pending.pop_front() {
        match event {
            RoomEvent::Transfer {
                peer,
                transfer,
                state,
            } => {
                let incoming = room
                    .transfer(&peer, transfer)
                    .is_some_and(|t| t.direction() == Direction::Incoming);
                if !incoming {
                    continue;
                }
                let over = open.update(room, peer.clone(), transfer, state.clone());
                if state == TransferState::Offered {
                    if args.yes {
                        pending.extend(room.accept(&peer, transfer).await);
                    } else {
                        questions.push_back((peer, transfer));
                        if questions.len() == 1 {
                            ask_next(room, questions);
                        }
                    }
                } else if state.is_final() {
                    // An offer withdrawn before the user answered is no longer a question.
                    let question = (peer.clone(), transfer);
                    let was_asked = questions.front() == Some(&question);
                    questions.retain(|queued| *queued != question);
                    if !args.stay && over.is_some() {
                        return over;
                    }
                    if was_asked {
                        ask_next(room, questions);
                    }
                }
            }
            RoomEvent::Chat { name, text, .. } => room.ui().status(format!("{name}: {text}")),
            RoomEvent::PairingFailed(error) => return Some(Err(error.into())),
            RoomEvent::Connected { .. }
            | RoomEvent::Disconnected { .. }
            | RoomEvent::Refused { .. } => {}
        }
    }
    None
}

fn ask_next(room: &Room, questions: &VecDeque<Question>) {
    let Some((peer, transfer)) = questions.front() else {
        return;
    };
    if let Some(offer) = room.transfer(peer, *transfer) {
        room.ui().status(format!(
            "{} offers {}. Accept? [y/N]",
            room.name(peer),
            describe(offer)
        ));
    }
}

/// The next line from the user, or `None` once nobody can answer any more.
async fn next_answer(answers: &mut Option<mpsc::Receiver<String>>) -> Option<String> {
    match answers {
        Some(lines) => lines.recv().await,
        None => None,
    }
}

fn is_yes(line: &str) -> bool {
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn result_of(peer: &str, state: TransferState) -> Result<()> {
    match state {
        TransferState::Done => Ok(()),
        TransferState::Declined => Err(Error::Declined {
            peer: "you".to_owned(),
        }),
        TransferState::Cancelled { reason, .. } | TransferState::Failed { reason } => {
            Err(Error::TransferFailed {
                peer: peer.to_owned(),
                reason,
            })
        }
        _ => Ok(()),
    }
}
