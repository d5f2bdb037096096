// Every file under the folder `arguments[0]` of the origin private file system, with
// its `/`-separated path in that folder, its size and its SHA-256 in lowercase hex,
// sorted by path; null if there is no such folder. Files are read one at a time.
const [name] = arguments;
const hex = (digest) =>
  [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
return (async () => {
  let folder;
  try {
    folder = await (await navigator.storage.getDirectory()).getDirectoryHandle(name);
  } catch {
    return null;
  }
  const found = [];
  const walk = async (handle, prefix) => {
    for await (const [entry, child] of handle.entries()) {
      const path = prefix + entry;
      if (child.kind === "directory") {
        await walk(child, path + "/");
      } else {
        const bytes = await (await child.getFile()).arrayBuffer();
        found.push({ path, size: bytes.byteLength, sha256: hex(await crypto.subtle.digest("SHA-256", bytes)) });
      }
    }
  };
  await walk(folder, "");
  return found.sort((a, b) => (a.path < b.path ? -1 : 1));
})();
