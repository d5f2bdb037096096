// Streams one saved file of a transfer back from its blob URL, as the user's "Save"
// would, and hashes `len` bytes at each of `offsets`: for files too large to hold whole
// in a page. Returns the file's size and the slices' SHA-256s in lowercase hex.
const [peer, id, name, offsets, len] = arguments;
const row = document.querySelector(
  `li.transfer[data-peer-id="${peer}"][data-transfer-id="${id}"]`);
const link = [...(row?.querySelectorAll("a.save") ?? [])]
  .find((a) => a.getAttribute("download") === name);
return (async () => {
  if (!link) return { size: -1, sha256s: [] };
  const reader = (await fetch(link.href)).body.getReader();
  const slices = offsets.map((offset) => ({ offset, parts: [] }));
  let position = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const end = position + value.length;
    for (const slice of slices) {
      const from = Math.max(slice.offset, position);
      const to = Math.min(slice.offset + len, end);
      if (from < to) slice.parts.push(value.slice(from - position, to - position));
    }
    position = end;
  }
  const sha256s = [];
  for (const slice of slices) {
    const bytes = new Uint8Array(await new Blob(slice.parts).arrayBuffer());
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    sha256s.push([...digest].map((byte) => byte.toString(16).padStart(2, "0")).join(""));
  }
  return { size: position, sha256s };
})();
