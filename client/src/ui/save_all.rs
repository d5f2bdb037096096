//! The "Save all" action of a transfer whose files all arrived: saves them together,
//! folders and all, and says how that went.

use yew::prelude::*;

use super::state::{RoomAction, RoomState};
use crate::saving::{self, Saved, Zip};
use crate::transfer::{SavedFile, TransferKey};

/// Where a "Save all" is. Kept in the page's state, by transfer: a plain function
/// rather than a component with its own state costs the app less wasm.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Idle,
    Saving,
    SavedInFolder(String),
    SavedAsZip(Zip),
    Failed(String),
}

impl Status {
    /// The status element's `data-state`, which the tests read.
    fn name(&self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Saving => "saving",
            Status::SavedInFolder(_) | Status::SavedAsZip(_) => "saved",
            Status::Failed(_) => "failed",
        }
    }

    fn words(&self) -> String {
        match self {
            Status::Idle => String::new(),
            Status::Saving => "Saving…".into(),
            Status::SavedInFolder(folder) => format!("Saved in {folder}"),
            Status::SavedAsZip(zip) => format!("Saved as {}", zip.name),
            Status::Failed(reason) => format!("Not saved: {reason}"),
        }
    }
}

/// The "Save all" button of transfer `key`, whose received files are `files`; once
/// saved as a zip, a link to download it again.
pub fn save_all(
    room: &UseReducerHandle<RoomState>,
    key: &TransferKey,
    files: &[SavedFile],
) -> Html {
    let status = room.save_all_status(key);
    let onclick = {
        let (room, key, files) = (room.clone(), key.clone(), files.to_vec());
        Callback::from(move |_| {
            let (room, key, files) = (room.clone(), key.clone(), files.clone());
            room.dispatch(RoomAction::SaveAll(key.clone(), Status::Saving));
            wasm_bindgen_futures::spawn_local(async move {
                let status = match saving::save_all(&files).await {
                    Ok(Saved::IntoFolder(folder)) => Status::SavedInFolder(folder),
                    Ok(Saved::AsZip(zip)) => Status::SavedAsZip(zip),
                    Ok(Saved::Dismissed) => Status::Idle,
                    Err(error) => Status::Failed(crate::transfer::describe(&error)),
                };
                room.dispatch(RoomAction::SaveAll(key, status));
            });
        })
    };
    html! {
        <>
            <button class="save-all secondary" disabled={*status == Status::Saving} {onclick}>
                { format!("Save all {} files", files.len()) }
            </button>
            <span class="save-all-status" data-state={status.name()} role="status">{ status.words() }</span>
            if let Status::SavedAsZip(zip) = status {
                <a class="save-all-zip" href={zip.url.clone()} download={zip.name.clone()}>{ "Download again" }</a>
            }
        </>
    }
}
