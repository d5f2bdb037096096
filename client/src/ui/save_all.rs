//! The "Save all" action of a transfer whose files all arrived: saves them together,
//! folders and all, and says how that went.

use yew::prelude::*;

use crate::saving::zip::Zip;
use crate::saving::{self, Saved};
use crate::transfer::SavedFile;

#[derive(Properties, PartialEq)]
pub struct SaveAllProps {
    pub files: Vec<SavedFile>,
}

/// Where a "Save all" is.
#[derive(Debug, Clone, PartialEq)]
enum Status {
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

/// A "Save all" button; once saved as a zip, a link to download it again.
#[function_component(SaveAll)]
pub fn save_all(props: &SaveAllProps) -> Html {
    let status = use_state(|| Status::Idle);
    let onclick = {
        let (status, files) = (status.clone(), props.files.clone());
        Callback::from(move |_| {
            let (status, files) = (status.clone(), files.clone());
            status.set(Status::Saving);
            wasm_bindgen_futures::spawn_local(async move {
                status.set(match saving::save_all(&files).await {
                    Ok(Saved::IntoFolder(folder)) => Status::SavedInFolder(folder),
                    Ok(Saved::AsZip(zip)) => Status::SavedAsZip(zip),
                    Ok(Saved::Dismissed) => Status::Idle,
                    Err(error) => Status::Failed(crate::transfer::describe(&error)),
                });
            });
        })
    };
    html! {
        <>
            <button class="save-all secondary" disabled={*status == Status::Saving} {onclick}>
                { format!("Save all {} files", props.files.len()) }
            </button>
            <span class="save-all-status" data-state={status.name()} role="status">{ status.words() }</span>
            if let Status::SavedAsZip(zip) = &*status {
                <a class="save-all-zip" href={zip.url.clone()} download={zip.name.clone()}>{ "Download again" }</a>
            }
        </>
    }
}
