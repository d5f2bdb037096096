//! Transfers, in the two places people look for them: offers waiting for an answer on
//! top of the page ([`offer_list`]), and everything sent or received below
//! ([`transfer_list`]), where finished ones fold into one line each until cleared.

use std::rc::Rc;

use meshdrop_transfer::{Direction, TransferState};
use yew::prelude::*;

use super::save_all::save_all;
use super::state::{RoomAction, RoomState};
use crate::transfer::{SwarmNews, TransferAction, TransferKey, TransferView, CANCELLED_BY_USER};

/// A user's answer or cancel for one transfer.
pub type OnTransferAction = Callback<(TransferKey, TransferAction)>;

/// Incoming offers waiting for an answer. Always in the page, and a live region, so a
/// screen reader announces each new offer as it arrives.
pub fn offer_list(room: &UseReducerHandle<RoomState>, on_action: &OnTransferAction) -> Html {
    let offers: Vec<&TransferView> = room
        .transfers
        .iter()
        .filter(|view| is_offer_to_me(view))
        .collect();
    html! {
        <section id="offers" class={super::class_names(&[Some("offers"), offers.is_empty().then_some("empty")])} aria-label="Offers for you">
            <ul class="transfer-list" aria-live="polite" aria-relevant="additions">
                { for offers.into_iter().map(|view| transfer_row(view, room, on_action)) }
            </ul>
        </section>
    }
}

/// Everything that is not an offer waiting for us: running transfers first, newest
/// first, then the finished ones, folded.
pub fn transfer_list(room: &UseReducerHandle<RoomState>, on_action: &OnTransferAction) -> Html {
    let others = room
        .transfers
        .iter()
        .rev()
        .filter(|view| !is_offer_to_me(view));
    let (finished, running): (Vec<&TransferView>, Vec<&TransferView>) =
        others.partition(|view| view.state.is_final());
    let on_clear = {
        let room = room.clone();
        Callback::from(move |_: MouseEvent| {
            revoke_saved_files(&room.transfers);
            room.dispatch(RoomAction::ClearFinished);
        })
    };
    html! {
        <section id="transfers" class="panel transfers-panel" aria-labelledby="transfers-heading">
            <h2 id="transfers-heading">{ "Transfers" }</h2>
            if running.is_empty() && finished.is_empty() {
                <p class="hint">{ "Files you send or receive show up here." }</p>
            }
            <ul class="transfer-list">
                { for running.into_iter().map(|view| transfer_row(view, room, on_action)) }
            </ul>
            if !finished.is_empty() {
                <div class="finished-head">
                    <h3>{ "Finished" }</h3>
                    <button type="button" class="clear-finished secondary" onclick={on_clear}>{ "Clear finished" }</button>
                </div>
                <ul class="transfer-list finished">
                    { for finished.into_iter().map(|view| transfer_row(view, room, on_action)) }
                </ul>
            }
        </section>
    }
}

fn is_offer_to_me(view: &TransferView) -> bool {
    view.direction == Direction::Incoming && view.state == TransferState::Offered
}

/// Cleared rows take their "Save" links with them; the files behind them go too.
fn revoke_saved_files(transfers: &Rc<Vec<TransferView>>) {
    let finished = transfers.iter().filter(|view| view.state.is_final());
    for file in finished.flat_map(|view| &view.saved) {
        let _ = web_sys::Url::revoke_object_url(&file.url);
    }
}

fn transfer_row(
    view: &TransferView,
    room: &UseReducerHandle<RoomState>,
    on_action: &OnTransferAction,
) -> Html {
    let button = |class: &'static str, label: &'static str, action: TransferAction| {
        let (key, on_action) = (view.key.clone(), on_action.clone());
        let secondary = (action != TransferAction::Accept).then_some("secondary");
        html! {
            <button type="button" class={super::class_names(&[Some(class), secondary])} onclick={move |_| on_action.emit((key.clone(), action.clone()))}>
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
    let progress_label = format!("{headline}: progress");
    let offered = view.state == TransferState::Offered;
    let running = view.state.is_running();
    let finished = view.state.is_final();
    let saved = room.saved.contains(&view.key);
    let files = html! {
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
    };
    let on_pick_again = {
        let (key, on_action) = (view.key.clone(), on_action.clone());
        Callback::from(move |event: Event| {
            let Some(input) = event.target_dyn_into::<web_sys::HtmlInputElement>() else {
                return;
            };
            let files = input.files().map(|list| {
                (0..list.length())
                    .filter_map(|at| list.get(at))
                    .collect::<Vec<_>>()
            });
            input.set_value("");
            if let Some(files) = files.filter(|files| !files.is_empty()) {
                on_action.emit((key.clone(), TransferAction::PickedAgain(files)));
            }
        })
    };
    let pick_label = if view.files.len() == 1 {
        "Pick the file again"
    } else {
        "Pick the files again"
    };
    let on_save = {
        let (room, key) = (room.clone(), view.key.clone());
        Callback::from(move |_: MouseEvent| room.dispatch(RoomAction::Saved(key.clone())))
    };
    html! {
        <li class={super::class_names(&[Some("transfer"), Some(state_name(&view.state)), Some(if incoming { "incoming" } else { "outgoing" })])}
            key={format!("{}-{}", view.key.peer, view.key.id)}
            data-transfer-id={view.key.id.to_string()} data-peer-id={view.key.peer.to_string()}
            data-direction={if incoming { "incoming" } else { "outgoing" }}
            data-state={state_name(&view.state)}
            data-bytes-sent={(!incoming).then(|| view.bytes_sent.to_string())}
            data-blocks-kept={incoming.then(|| view.blocks_kept.to_string())}
            data-blocks-restored={incoming.then(|| view.blocks_restored.to_string())}
            data-from-peers={view.swarm.as_ref().filter(|_| incoming).map(|swarm| swarm.from_peers.to_string())}>
            <div class="transfer-head">
                <span class="transfer-arrow" aria-hidden="true">{ if incoming { "↓" } else { "↑" } }</span>
                <span class="transfer-title">{ headline }</span>
                <span class="transfer-size">{ format_bytes(total) }</span>
            </div>
            if let Some(words) = status_words(view, saved, &peer) {
                <div class="transfer-status">{ words }</div>
            }
            if let Some(reason) = failure_reason(&view.state, &peer) {
                <div class="transfer-error">{ reason }</div>
            }
            if finished {
                <details class="transfer-details">
                    <summary>{ files_summary(view.files.len()) }</summary>
                    { files }
                </details>
            } else {
                { files }
            }
            if running {
                <progress max="1000" value={permille(view.progress.fraction()).to_string()}
                    aria-label={progress_label} />
                <div class="transfer-progress">{ progress_line(view) }</div>
            }
            if let Some(swarm) = view.swarm.as_ref().filter(|_| incoming) {
                <div class="transfer-swarm">{ swarm_line(swarm) }</div>
            }
            <div class="transfer-actions">
                if offered && incoming {
                    { button("accept", "Accept", TransferAction::Accept) }
                    { button("decline", "Decline", TransferAction::Decline) }
                }
                if view.needs_files {
                    <label class="button pick-again-label">
                        { pick_label }
                        <input type="file" class="pick-again visually-hidden" multiple=true onchange={on_pick_again} />
                    </label>
                }
                if (offered && !incoming) || running {
                    { button("cancel", "Cancel", TransferAction::Cancel) }
                }
                { for view.saved.iter().map(|file| html! {
                    <a class="save" href={file.url.clone()} download={file.path.file_name().to_owned()}
                        data-path={file.path.to_string()} onclick={on_save.clone()}>
                        { format!("Save {}", file.path.file_name()) }
                    </a>
                }) }
                if view.saved.len() > 1 && view.saved.len() == view.files.len() {
                    { save_all(room, &view.key, &view.saved) }
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
        TransferState::Paused { .. } => "paused",
        TransferState::Done => "done",
        TransferState::Cancelled { .. } => "cancelled",
        TransferState::Failed { .. } => "failed",
    }
}

/// Where a transfer stands, in words; `None` for the endings [`failure_reason`] says.
fn status_words(view: &TransferView, saved: bool, peer: &str) -> Option<String> {
    let incoming = view.direction == Direction::Incoming;
    if view.needs_files {
        let which = if view.files.len() == 1 {
            "the file"
        } else {
            "the files"
        };
        let mut words = format!("Paused: this page was reloaded; pick {which} again to go on.");
        if view.picked_wrong {
            words.push_str(" Those were not the same files.");
        }
        return Some(words);
    }
    if let TransferState::Paused { gives_up_at_ms } = view.state {
        let mut words = "Paused: reconnecting…".to_owned();
        if let Some(at) = gives_up_at_ms {
            words.push_str(&format!(
                " {peer} left the room; gives up at {} unless back.",
                clock_time(at)
            ));
        }
        return Some(words);
    }
    let words = match (&view.state, incoming) {
        (TransferState::Offered, false) => "Waiting for answer",
        (TransferState::Transferring, true) => "Receiving",
        (TransferState::Transferring, false) => "Sending",
        (TransferState::Verifying, _) => "Checking",
        (TransferState::Done, false) => "Done",
        (TransferState::Done, true) if saved => "Saved",
        (TransferState::Done, true) if view.saved.len() < view.files.len() => "Storing",
        (TransferState::Done, true) => "Received, ready to save",
        _ => return None,
    };
    Some(words.to_owned())
}

/// "14:05", the local time of `ms` since the Unix epoch.
fn clock_time(ms: u64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

/// Why a transfer ended early, said once and naming who did it.
fn failure_reason(state: &TransferState, peer: &str) -> Option<String> {
    match state {
        TransferState::Cancelled { by_me: true, .. } => Some("You cancelled.".into()),
        TransferState::Cancelled {
            by_me: false,
            reason,
        } if reason == CANCELLED_BY_USER => Some(format!("Cancelled by {peer}.")),
        TransferState::Cancelled {
            by_me: false,
            reason,
        } => Some(format!("Cancelled by {peer}: {reason}")),
        TransferState::Failed { reason } => Some(format!("Failed: {reason}")),
        TransferState::Declined => Some("Declined.".into()),
        _ => None,
    }
}

fn files_summary(count: usize) -> String {
    match count {
        1 => "1 file".to_owned(),
        count => format!("{count} files"),
    }
}

/// "12.0 MiB of 64.0 MiB · 19% · 21.4 MiB/s · 2 s left"
fn progress_line(view: &TransferView) -> String {
    let progress = view.progress;
    let mut line = format!(
        "{} of {} · {}%",
        format_bytes(progress.bytes_done),
        format_bytes(progress.bytes_total),
        (progress.fraction() * 100.0).round() as u64
    );
    if let Some(rate) = view.mib_per_second {
        line.push_str(&format!(" · {} MiB/s", one_decimal(rate)));
    }
    if let Some(left) = view.seconds_left {
        line.push_str(&format!(" · {} left", format_duration(left)));
    }
    line
}

/// "12.0 MiB from other receivers · Sender left; finishing from peers"
fn swarm_line(swarm: &SwarmNews) -> String {
    let mut line = format!("{} from other receivers", format_bytes(swarm.from_peers));
    if let Some(status) = &swarm.status {
        line.push_str(" · ");
        line.push_str(status);
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
    format!("{} {}", one_decimal(value), UNITS[unit])
}

/// "21.4": a non-negative number rounded to one decimal, in integer arithmetic, because
/// core's float formatting (`{:.1}`) costs the web app about 10 KB of wasm.
fn one_decimal(value: f64) -> String {
    let tenths = (value.max(0.0) * 10.0).round() as u64;
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// A fraction as thousandths, for `<progress max="1000">` (integers format without core's
/// float formatting).
fn permille(fraction: f64) -> u64 {
    (fraction.clamp(0.0, 1.0) * 1000.0).round() as u64
}

fn format_duration(seconds: f64) -> String {
    let seconds = seconds.max(0.0).round() as u64;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h {:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}
