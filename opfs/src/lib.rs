//! The web app's files in the Origin Private File System, written and read by a worker.
//!
//! A worker (web/opfs-writer.js) holds a sync access handle on each file and writes
//! into it, or reads from it; `getFile()` then hands back a disk-backed `File` the user
//! can save. The page's received files, its journals and archives live here, and so do
//! the files a swarm brings (`meshdrop-client-swarm`, a module of its own with its own
//! worker), which are read back to serve other members.
//!
//! Why a worker: the page's own way to write, a `FileSystemWritableFileStream`, sends
//! every write through the browser's storage process as a blob. Measured on a 256 MiB
//! receive, that cost the browser more CPU than hashing every byte did, and on a machine
//! whose cores the data channel already keeps busy, CPU is throughput.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use gloo_events::EventListener;
use js_sys::{Array, ArrayBuffer, Function, Object, Promise, Reflect, Uint8Array};
use meshdrop_sorted_map::SortedMap;
use meshdrop_transfer::DIGEST_BLOCK_LEN;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetDirectoryOptions,
    FileSystemGetFileOptions, MessageEvent, Worker,
};

/// The folder, inside the origin's private file system, that holds incoming files.
const INCOMING_DIR: &str = "meshdrop-incoming";

/// The writer worker's script, next to index.html.
const WRITER_SCRIPT: &str = "opfs-writer.js";

/// How many written-out block buffers the page keeps to fill again.
const SPARE_BUFFERS: usize = 4;

/// A file of the private folder, written by the writer worker.
pub struct PrivateFile {
    writer: Rc<Writer>,
    /// The writer's name for this file.
    id: u32,
    directory: FileSystemDirectoryHandle,
    handle: FileSystemFileHandle,
    /// Name in the private folder; unique per page, so transfers never collide.
    stored_name: String,
}

impl PrivateFile {
    /// A new, empty file in the private folder, open for writing.
    pub async fn create(stored_name: String) -> Result<Self, JsValue> {
        let directory = incoming_directory().await?;
        let options = FileSystemGetFileOptions::new();
        options.set_create(true);
        let handle: FileSystemFileHandle =
            JsFuture::from(directory.get_file_handle_with_options(&stored_name, &options))
                .await?
                .dyn_into()?;
        let writer = Writer::get()?;
        let id = writer.new_id();
        writer.request(id, "open", &[("handle", &handle)]).await?;
        Ok(Self {
            writer,
            id,
            directory,
            handle,
            stored_name,
        })
    }

    /// Its name in the private folder.
    pub fn stored_name(&self) -> &str {
        &self.stored_name
    }

    /// Write `bytes` at offset `at`. Writes happen in the order made; a failed one fails
    /// [`PrivateFile::written`] and [`PrivateFile::finish`], which is where it is
    /// reported.
    pub fn write_at(&self, at: u64, bytes: &[u8]) {
        // A copy outside wasm memory, moved (not copied again) into the worker.
        let buffer = self.buffer(bytes.len() as u32);
        buffer.copy_from(bytes);
        self.write_buffer_at(at, buffer.buffer());
    }

    /// A buffer of `len` bytes outside wasm memory to gather bytes for
    /// [`Self::write_buffer_at`] in: a spare one if it has the size, so the page does not
    /// allocate (and the system zero) a megabyte per block.
    pub fn buffer(&self, len: u32) -> Uint8Array {
        let mut spare = self.writer.spare.borrow_mut();
        match spare.iter().position(|buffer| buffer.byte_length() == len) {
            Some(at) => Uint8Array::new(&spare.swap_remove(at)),
            None => Uint8Array::new_with_length(len),
        }
    }

    /// [`Self::write_at`] for bytes already outside wasm memory: the whole of `buffer`
    /// is moved into the worker, and unusable here after.
    pub fn write_buffer_at(&self, at: u64, buffer: ArrayBuffer) {
        let at = JsValue::from_f64(at as f64);
        let buffer = JsValue::from(buffer);
        self.writer.post(
            self.id,
            "write",
            &[("at", &at), ("bytes", &buffer)],
            &buffer,
        );
    }

    /// Wait until every write so far is on disk: a writer that reads faster than the
    /// disk writes waits here instead of queueing the difference in memory.
    pub async fn written(&self) -> Result<(), JsValue> {
        self.writer.request(self.id, "sync", &[]).await.map(drop)
    }

    /// The `len` bytes at offset `at`, after every write made before: a short read
    /// (past the end) is an error.
    pub async fn read_at(&self, at: u64, len: u32) -> Result<Vec<u8>, JsValue> {
        let (at, len) = (JsValue::from_f64(at as f64), JsValue::from(len));
        let reply = self
            .writer
            .request(self.id, "read", &[("at", &at), ("len", &len)])
            .await?;
        let bytes: ArrayBuffer = Reflect::get(&reply, &"bytes".into())?.dyn_into()?;
        Ok(Uint8Array::new(&bytes).to_vec())
    }

    /// Flush and close; returns the stored file, disk-backed.
    pub async fn finish(self) -> Result<web_sys::File, JsValue> {
        self.writer
            .request(self.id, "close", &[("flush", &JsValue::TRUE)])
            .await?;
        JsFuture::from(self.handle.get_file()).await?.dyn_into()
    }

    /// Give up on the file and delete what was written.
    pub async fn discard(self) {
        let _ = self
            .writer
            .request(self.id, "close", &[("flush", &JsValue::FALSE)])
            .await;
        let _ = JsFuture::from(self.directory.remove_entry(&self.stored_name)).await;
    }
}

/// The page's one writer worker, and the requests waiting for its replies.
struct Writer {
    worker: Worker,
    next_id: Cell<u32>,
    /// What answers each file's requests in flight, in the order made (the worker
    /// answers a file's requests in order): their promises' `resolve`.
    waiting: Rc<RefCell<SortedMap<u32, VecDeque<Function>>>>,
    /// Why the worker stopped, once it has: every request then fails with this.
    stopped: Rc<RefCell<Option<String>>>,
    /// Block-sized buffers the worker has written out and handed back, to fill again.
    spare: Rc<RefCell<Vec<ArrayBuffer>>>,
    _listeners: [EventListener; 2],
}

thread_local! {
    static WRITER: RefCell<Option<Rc<Writer>>> = const { RefCell::new(None) };
}

impl Writer {
    /// The page's writer, started on first use.
    fn get() -> Result<Rc<Self>, JsValue> {
        if let Some(writer) = WRITER.with_borrow(Clone::clone) {
            return Ok(writer);
        }
        let writer = Rc::new(Self::start()?);
        WRITER.set(Some(writer.clone()));
        Ok(writer)
    }

    fn start() -> Result<Self, JsValue> {
        let worker = Worker::new(WRITER_SCRIPT)?;
        let waiting: Rc<RefCell<SortedMap<u32, VecDeque<Function>>>> = Rc::default();
        let stopped: Rc<RefCell<Option<String>>> = Rc::default();
        let spare: Rc<RefCell<Vec<ArrayBuffer>>> = Rc::default();
        let replies = EventListener::new(&worker, "message", {
            let waiting = waiting.clone();
            let spare = spare.clone();
            move |event| {
                let Some(reply) = event.dyn_ref::<MessageEvent>().map(MessageEvent::data) else {
                    return;
                };
                let spent =
                    Reflect::get(&reply, &"spent".into()).map(JsCast::dyn_into::<ArrayBuffer>);
                if let Ok(Ok(buffer)) = spent {
                    let mut spare = spare.borrow_mut();
                    let block_sized = buffer.byte_length() == DIGEST_BLOCK_LEN as u32;
                    if block_sized && spare.len() < SPARE_BUFFERS {
                        spare.push(buffer);
                    }
                    return;
                }
                let id = Reflect::get(&reply, &"id".into())
                    .ok()
                    .and_then(|id| id.as_f64());
                let resolve = id.and_then(|id| {
                    let mut waiting = waiting.borrow_mut();
                    let queue = waiting.get_mut(&(id as u32))?;
                    let resolve = queue.pop_front();
                    if queue.is_empty() {
                        waiting.remove(&(id as u32));
                    }
                    resolve
                });
                if let Some(resolve) = resolve {
                    let _ = resolve.call1(&JsValue::NULL, &reply);
                }
            }
        });
        let failures = EventListener::new(&worker, "error", {
            let waiting = waiting.clone();
            let stopped = stopped.clone();
            move |_| {
                let reason = format!("the file writer ({WRITER_SCRIPT}) failed to run");
                let error = JsValue::from_str(&reason);
                stopped.replace(Some(reason));
                for (_, queue) in waiting.borrow_mut().drain() {
                    for resolve in queue {
                        let _ = resolve.call1(&JsValue::NULL, &error);
                    }
                }
            }
        });
        Ok(Self {
            worker,
            next_id: Cell::new(0),
            waiting,
            stopped,
            spare,
            _listeners: [replies, failures],
        })
    }

    fn new_id(&self) -> u32 {
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        id
    }

    /// Send the worker a message about file `id`, moving `moved` into it.
    fn post(&self, id: u32, kind: &str, fields: &[(&str, &JsValue)], moved: &JsValue) {
        let message = message(id, kind, fields);
        let _ = self
            .worker
            .post_message_with_transfer(&message, &Array::of1(moved));
    }

    /// Send the worker a message about file `id` and wait for its reply, which is
    /// `{ id, error }` and more, or (from a worker that stopped) the reason.
    async fn request(
        &self,
        id: u32,
        kind: &str,
        fields: &[(&str, &JsValue)],
    ) -> Result<JsValue, JsValue> {
        if let Some(reason) = self.stopped.borrow().as_deref() {
            return Err(JsValue::from_str(reason));
        }
        let reply = Promise::new(&mut |resolve, _reject| {
            self.waiting.borrow_mut().or_default(&id).push_back(resolve);
        });
        self.worker.post_message(&message(id, kind, fields))?;
        let reply = JsFuture::from(reply).await?;
        let error = match reply.as_string() {
            Some(reason) => Some(reason),
            None => Reflect::get(&reply, &"error".into())?.as_string(),
        };
        match error {
            Some(error) => Err(JsValue::from_str(&error)),
            None => Ok(reply),
        }
    }
}

fn message(id: u32, kind: &str, fields: &[(&str, &JsValue)]) -> Object {
    let message = Object::new();
    let _ = Reflect::set(&message, &"kind".into(), &kind.into());
    let _ = Reflect::set(&message, &"id".into(), &id.into());
    for (name, value) in fields {
        let _ = Reflect::set(&message, &(*name).into(), value);
    }
    message
}

async fn incoming_directory() -> Result<FileSystemDirectoryHandle, JsValue> {
    let root: FileSystemDirectoryHandle = JsFuture::from(storage_manager()?.get_directory())
        .await?
        .dyn_into()?;
    let options = FileSystemGetDirectoryOptions::new();
    options.set_create(true);
    JsFuture::from(root.get_directory_handle_with_options(INCOMING_DIR, &options))
        .await?
        .dyn_into()
}

fn storage_manager() -> Result<web_sys::StorageManager, JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let navigator = window.navigator();
    if Reflect::get(&navigator, &"storage".into())?.is_undefined() {
        return Err(JsValue::from_str(
            "it is not a secure context, so the browser gives it no file storage. Open Meshdrop over HTTPS, or on localhost",
        ));
    }
    Ok(navigator.storage())
}

/// The names in the folder of incoming files.
pub async fn names() -> Vec<String> {
    let Ok(directory) = incoming_directory().await else {
        return Vec::new();
    };
    let keys = directory.keys();
    let mut names = Vec::new();
    while let Ok(next) = keys.next() {
        let Ok(step) = JsFuture::from(next).await else {
            break;
        };
        let step: js_sys::IteratorNext = step.unchecked_into();
        if step.done() {
            break;
        }
        names.extend(step.value().as_string());
    }
    names
}

/// The text of file `name` of the folder of incoming files, if it can be read: not
/// while a worker has it open.
pub async fn read_text(name: &str) -> Option<String> {
    let directory = incoming_directory().await.ok()?;
    let handle: FileSystemFileHandle = JsFuture::from(directory.get_file_handle(name))
        .await
        .ok()?
        .unchecked_into();
    let file: web_sys::File = JsFuture::from(handle.get_file())
        .await
        .ok()?
        .unchecked_into();
    JsFuture::from(file.text()).await.ok()?.as_string()
}

/// Delete file `name` of the folder of incoming files.
pub async fn remove(name: &str) {
    if let Ok(directory) = incoming_directory().await {
        let _ = JsFuture::from(directory.remove_entry(name)).await;
    }
}
