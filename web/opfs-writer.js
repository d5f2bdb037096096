// Writes files into the origin private file system, and reads them back, for opfs/src/lib.rs.
//
// A sync access handle writes straight into the file from this worker. The page's own
// alternative, a writable stream, sends every write through the browser's storage
// process as a blob, which cost more CPU than hashing the bytes.
//
// Messages in, each with the file's `id` (chosen by the page):
//   { kind: "open", id, handle }   handle: a FileSystemFileHandle      -> reply
//   { kind: "write", id, at, bytes }   bytes: an ArrayBuffer, at: file offset -> spent
//   { kind: "sync", id }           once every earlier write is done    -> reply
//   { kind: "read", id, at, len }  after every earlier write   -> reply with bytes
//   { kind: "close", id, flush }   after the last write, or to give up  -> reply
// A reply is { id, error }: error is null, or why the file failed (a read's also has
// `bytes`, an ArrayBuffer of `len` bytes from `at`). A failed write is
// remembered and reported by the file's "close" reply. After each write, the buffer goes
// back to the page as { spent: bytes }, for the page to fill again instead of allocating.
"use strict";

const files = new Map();

function reason(error) {
  return String(error?.message ?? error);
}

onmessage = async ({ data }) => {
  const { kind, id } = data;
  if (kind === "open") {
    try {
      files.set(id, { access: await data.handle.createSyncAccessHandle(), error: null });
      postMessage({ id, error: null });
    } catch (error) {
      postMessage({ id, error: reason(error) });
    }
  } else if (kind === "write") {
    const file = files.get(id);
    if (!file || file.error) return;
    try {
      const written = file.access.write(new Uint8Array(data.bytes), { at: data.at });
      if (written !== data.bytes.byteLength) file.error = "the disk took only part of a write";
    } catch (error) {
      file.error = reason(error);
    }
    postMessage({ spent: data.bytes }, [data.bytes]);
  } else if (kind === "sync") {
    postMessage({ id, error: files.get(id)?.error ?? null });
  } else if (kind === "read") {
    const file = files.get(id);
    try {
      const bytes = new Uint8Array(data.len);
      if (!file) throw new Error("no such file");
      if (file.access.read(bytes, { at: data.at }) !== data.len) throw new Error("short read");
      postMessage({ id, error: null, bytes: bytes.buffer }, [bytes.buffer]);
    } catch (error) {
      postMessage({ id, error: reason(error) });
    }
  } else if (kind === "close") {
    const file = files.get(id);
    files.delete(id);
    let error = file ? file.error : "no such file";
    try {
      if (file && data.flush) file.access.flush();
      file?.access.close();
    } catch (closing) {
      error ??= reason(closing);
    }
    postMessage({ id, error });
  }
};
