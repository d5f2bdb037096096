// Trunk's post-build hook (Trunk.toml): makes the release build's JavaScript smaller
// (the page weight, issue 10), in Trunk's staging directory before it becomes dist/.
//
// - wasm-bindgen names each import the wasm takes from its JavaScript glue like
//   `__wbg_createElement_1f2e3d4c5b6a7980`: 264 names whose random hashes gzip cannot
//   shrink, written twice, in the wasm and in the glue. They are renamed to short names
//   (`a`, `b`, ..., `aa`, ...), the same in both, and so are the import module and the
//   exports the glue calls (`__wbindgen_malloc`, closures' `..._invoke__h1a2b...`).
// - Trunk's own minifier cannot parse wasm-bindgen's glue (it gives up on the glue's
//   `export { ..., __wbg_init as default }`) and leaves copied files as they are, so
//   terser minifies the glue and the two copied workers (sw.js, opfs-writer.js).
// - index.html's integrity hashes are computed again for the files changed.
//
// Debug builds are left as wasm-bindgen wrote them. terser comes from .tools/, where
// `cargo xtask` installs it with the other build tools.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/// The copied JavaScript files that are not modules (workers), minified as scripts.
const COPIED_SCRIPTS = ["sw.js", "opfs-writer.js"];
const IMPORT_SECTION = 2;
const EXPORT_SECTION = 7;

if (process.env.TRUNK_PROFILE !== "release") {
  process.exit(0);
}
const staging = process.env.TRUNK_STAGING_DIR;
const terser = loadTerser();

// The app's wasm; the module loaded on demand (meshdrop-on-demand_bg.wasm) is left as
// wasm-bindgen wrote it.
const wasmName = readdirSync(staging).find(
  (name) => name.endsWith("_bg.wasm") && name.startsWith("meshdrop-client-"),
);
if (!wasmName) {
  fail(`no *_bg.wasm in ${staging}`);
}
const glueName = wasmName.replace(/_bg\.wasm$/, ".js");
const wasmPath = join(staging, wasmName);
const gluePath = join(staging, glueName);

const renamed = shortenNames(readFileSync(wasmPath), readFileSync(gluePath, "utf8"));
writeFileSync(wasmPath, renamed.wasm);
writeFileSync(gluePath, await minify(renamed.glue, true, glueName));
for (const name of COPIED_SCRIPTS) {
  const path = join(staging, name);
  writeFileSync(path, await minify(readFileSync(path, "utf8"), false, name));
}
updateIntegrity(join(staging, "index.html"), [wasmName, glueName]);

function loadTerser() {
  const tools = join(dirname(fileURLToPath(import.meta.url)), "..", ".tools", "node_modules");
  try {
    return createRequire(join(tools, "noop.js"))("terser");
  } catch (error) {
    fail(`terser is not installed in ${tools} (run \`cargo xtask run\` once): ${error.message}`);
  }
}

function fail(message) {
  console.error(`post-build.mjs: ${message}`);
  process.exit(1);
}

async function minify(code, module, name) {
  try {
    const result = await terser.minify(code, { module, compress: true, mangle: true });
    return result.code;
  } catch (error) {
    fail(`terser could not minify ${name}: ${error.message ?? error}`);
  }
}

/// The wasm and its glue with every import, and every export that the glue only reads
/// as `wasm.NAME`, renamed, the same in both (the glue's own functions are left to terser).
function shortenNames(wasm, glue) {
  const modules = new Map();
  const imports = new Map();
  const exports = new Map();
  const short = (names, name) => {
    if (!names.has(name)) {
      let index = names.size;
      let short = "";
      do {
        short = String.fromCharCode(97 + (index % 26)) + short;
        index = Math.floor(index / 26) - 1;
      } while (index >= 0);
      names.set(name, short);
    }
    return names.get(name);
  };
  const out = rewriteNames(wasm, {
    import: (module, name) => [short(modules, module), short(imports, name)],
    export: (name) => {
      // Read as a property only as `wasm.NAME`, never written as a string. (The glue also
      // has a function of the same name for each closure it calls: terser renames those.)
      const reads = countWord(glue, `wasm.${name}`);
      const properties = glue.split(`.${name}`).length - 1;
      const quoted = ['"', "'", "`"].some((quote) => glue.includes(`${quote}${name}${quote}`));
      return reads > 0 && reads === properties && !quoted ? short(exports, name) : name;
    },
  });
  for (const [from, to] of modules) {
    glue = replaceWord(glue, JSON.stringify(from), JSON.stringify(to), 1);
  }
  for (const [from, to] of imports) {
    glue = replaceWord(glue, from, to, 1);
  }
  for (const [from, to] of exports) {
    glue = replaceWord(glue, `wasm.${from}`, `wasm.${to}`, countWord(glue, `wasm.${from}`));
  }
  return { wasm: out, glue };
}

function wordPattern(word) {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?<![\\w$])${escaped}(?![\\w$])`, "g");
}

function countWord(text, word) {
  return text.match(wordPattern(word))?.length ?? 0;
}

/// `from` replaced in `text` as a whole word, where it must occur `times` times.
function replaceWord(text, from, to, times) {
  const found = countWord(text, from);
  if (found !== times) {
    fail(`the glue names ${from} ${found} times, not ${times}`);
  }
  return text.replace(wordPattern(from), to);
}

/// The wasm module with the names in its import and export sections replaced by
/// `rename.import(module, name)` and `rename.export(name)`.
function rewriteNames(wasm, rename) {
  const reader = { at: 8 };
  const parts = [wasm.subarray(0, 8)];
  while (reader.at < wasm.length) {
    const start = reader.at;
    const id = wasm[reader.at++];
    const size = readLeb(wasm, reader);
    const end = reader.at + size;
    if (id !== IMPORT_SECTION && id !== EXPORT_SECTION) {
      parts.push(wasm.subarray(start, end));
      reader.at = end;
      continue;
    }
    const count = readLeb(wasm, reader);
    const body = [leb(count)];
    for (let i = 0; i < count; i++) {
      if (id === IMPORT_SECTION) {
        const module = readName(wasm, reader);
        const name = readName(wasm, reader);
        const descStart = reader.at;
        skipImportDesc(wasm, reader);
        const [newModule, newName] = rename.import(module, name);
        body.push(nameBytes(newModule), nameBytes(newName), wasm.subarray(descStart, reader.at));
      } else {
        const name = readName(wasm, reader);
        const descStart = reader.at;
        reader.at++; // kind
        readLeb(wasm, reader); // index
        body.push(nameBytes(rename.export(name)), wasm.subarray(descStart, reader.at));
      }
    }
    if (reader.at !== end) {
      fail(`wasm section ${id} did not parse to its end`);
    }
    const section = Buffer.concat(body);
    parts.push(Buffer.from([id]), leb(section.length), section);
  }
  return Buffer.concat(parts);
}

function skipImportDesc(wasm, reader) {
  const kind = wasm[reader.at++];
  const limits = () => {
    const flags = wasm[reader.at++];
    readLeb(wasm, reader);
    if (flags & 1) {
      readLeb(wasm, reader);
    }
  };
  switch (kind) {
    case 0: // function: type index
      readLeb(wasm, reader);
      break;
    case 1: // table: reference type, limits
      reader.at++;
      limits();
      break;
    case 2: // memory: limits
      limits();
      break;
    case 3: // global: value type, mutability
      reader.at += 2;
      break;
    case 4: // tag: attribute, type index
      reader.at++;
      readLeb(wasm, reader);
      break;
    default:
      fail(`unknown wasm import kind ${kind}`);
  }
}

function readLeb(bytes, reader) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[reader.at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) {
      return value;
    }
  }
}

function leb(value) {
  const bytes = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value > 0) {
      byte |= 0x80;
    }
    bytes.push(byte);
  } while (value > 0);
  return Buffer.from(bytes);
}

function readName(bytes, reader) {
  const length = readLeb(bytes, reader);
  const name = bytes.subarray(reader.at, reader.at + length).toString("utf8");
  reader.at += length;
  return name;
}

function nameBytes(name) {
  const bytes = Buffer.from(name, "utf8");
  return Buffer.concat([leb(bytes.length), bytes]);
}

/// index.html's `integrity` attributes for `files`, computed again from their bytes.
function updateIntegrity(htmlPath, files) {
  let html = readFileSync(htmlPath, "utf8");
  for (const file of files) {
    const hash = createHash("sha384").update(readFileSync(join(staging, file))).digest("base64");
    let found = 0;
    html = html.replace(/<link\b[^>]*>/g, (tag) => {
      if (!tag.includes(`/${file}`)) {
        return tag;
      }
      found += 1;
      return tag.replace(/integrity=("?)sha384-[A-Za-z0-9+/=]+/, `integrity=$1sha384-${hash}`);
    });
    if (found === 0) {
      fail(`index.html does not link ${file}`);
    }
  }
  writeFileSync(htmlPath, html);
}
