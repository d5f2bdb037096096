//! The transfer list: every offer, running transfer and finished one, both directions.

use std::rc::Rc;

use meshdrop_transfer::{Direction, TransferState};
use yew::prelude::*;

use super::save_all::SaveAll;
use super::state::RoomState;
use crate::transfer::{TransferAction, TransferKey, TransferView};

#[derive(Properties, PartialEq)]
pub struct TransferListProps {
    pub transfers: Rc<Vec<TransferView>>,
    pub room: UseReducerHandle<RoomState>,
    pub on_action: Callback<(TransferKey, TransferAction)>,
}

#[function_component(TransferList)]
pub fn transfer_list(props: &TransferListProps) -> Html {
    html! {
        <section class="panel transfers-panel">
            <h2>{ "Transfers" }</h2>
            if props.transfers.is_empty() {
                <p class="hint">{ "Drop files on a peer, or on “Everyone”, to send them." }</p>
            }
            <ul id="transfers">
                { for props.transfers.iter().rev().map(|view| transfer_row(view, &props.room, &props.on_action)) }
            </ul>
        </section>
    }
}

fn transfer_row(
    view: &TransferView,
    room: &RoomState,
    on_action: &Callback<(TransferKey, TransferAction)>,
) -> Html {
    let button = |class: &'static str, label: &'static str, action: TransferAction| {
        let (key, on_action) = (view.key.clone(), on_action.clone());
        let secondary = (action != TransferAction::Accept).then_some("secondary");
        html! {
            <button class={classes!(class, secondary)} onclick={move |_| on_action.emit((key.clone(), action))}>
                { label }
            </button>
        }
    };
    let incoming = view.direction == Direction::Incoming;
    let peer = room.name_of(&view.key.peer);
    let total: u64 = view.files.iter().map(|file| file.size).sum();
    let headline = match (incoming, view.files.as_slice()) {
        (true, [one]) => format!("{peer} offers {}", one.name),
        (true, files) => format!("{peer} offers {} files", files.len()),
        (false, [one]) => format!("{} to {peer}", one.name),
        (false, files) => format!("{} files to {peer}", files.len()),
    };
    let offered = view.state == TransferState::Offered;
    let running = matches!(
        view.state,
        TransferState::Transferring | TransferState::Verifying
    );
    html! {
        <li class={classes!("transfer", state_name(&view.state))} key={format!("{}-{}", view.key.peer, view.key.id)}
            data-transfer-id={view.key.id.to_string()} data-peer-id={view.key.peer.to_string()}
            data-direction={if incoming { "incoming" } else { "outgoing" }}
            data-state={state_name(&view.state)}>
            <div class="transfer-head">
                <span class="transfer-title">{ headline }</span>
                <span class="transfer-size">{ format_bytes(total) }</span>
            </div>
            <ul class="transfer-files">
                { for view.files.iter().zip(&view.paths).map(|(file, path)| html! {
                    <li>
                        <span class="file-name">{ &file.name }</span>
                        if !path.folders().is_empty() {
                            <span class="muted file-folder">{ format!(" in {}", path.folders().join("/")) }</span>
                        }
                        <span class="muted">
                            { " · " }<span class="file-size">{ format_bytes(file.size) }</span>
                            if !file.mime.is_empty() {
                                { " · " }<span class="file-type">{ &file.mime }</span>
                            }
                        </span>
                    </li>
                }) }
            </ul>
            <progress max="1" value={view.progress.fraction().to_string()} />
            <div class="transfer-progress">{ progress_line(view) }</div>
            if let Some(reason) = failure_reason(&view.state) {
                <div class="transfer-error">{ reason }</div>
            }
            <div class="transfer-actions">
                if offered && incoming {
                    { button("accept", "Accept", TransferAction::Accept) }
                    { button("decline", "Decline", TransferAction::Decline) }
                }
                if (offered && !incoming) || running {
                    { button("cancel", "Cancel", TransferAction::Cancel) }
                }
                { for view.saved.iter().map(|file| html! {
                    <a class="save" href={file.url.clone()} download={file.path.file_name().to_owned()}
                        data-path={file.path.to_string()}>{ format!("Save {}", file.path.file_name()) }</a>
                }) }
                if view.saved.len() > 1 && view.saved.len() == view.files.len() {
                    <SaveAll files={view.saved.clone()} />
                }
            </div>
        </li>
    }
}

pub fn state_name(state: &TransferState) -> &'static str {
    match state {
        TransferState::Offered => "offered",
        TransferState::Declined => "declined",
        TransferState::Transferring => "transferring",
        TransferState::Verifying => "verifying",
        TransferState::Done => "done",
        TransferState::Cancelled { .. } => "cancelled",
        TransferState::Failed { .. } => "failed",
    }
}

fn failure_reason(state: &TransferState) -> Option<String> {
    match state {
        TransferState::Cancelled { by_me: true, .. } => Some("You cancelled.".into()),
        TransferState::Cancelled {
            by_me: false,
            reason,
        } => Some(format!("Cancelled by the peer: {reason}")),
        TransferState::Failed { reason } => Some(format!("Failed: {reason}")),
        TransferState::Declined => Some("Declined.".into()),
        _ => None,
    }
}

/// "12.0 MiB of 64.0 MiB · 19% · 21.4 MiB/s · 2 s left"
fn progress_line(view: &TransferView) -> String {
    let progress = view.progress;
    let mut line = format!(
        "{} of {} · {:.0}%",
        format_bytes(progress.bytes_done),
        format_bytes(progress.bytes_total),
        progress.fraction() * 100.0
    );
    if let Some(rate) = view.mib_per_second {
        line.push_str(&format!(" · {rate:.1} MiB/s"));
    }
    if let Some(left) = view.seconds_left {
        line.push_str(&format!(" · {} left", format_duration(left)));
    }
    line
}

pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn format_duration(seconds: f64) -> String {
    let seconds = seconds.max(0.0).round() as u64;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h {:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}
