// Meshdrop's service worker: opens the app without a network, and receives files shared
// to it from the system's share sheet.
//
// Trunk puts content hashes in the names of what it builds, so no list of files can be
// written here. The list is read at run time from index.html instead, which names the
// current build's files: each time index.html comes from the network, the files it names
// are cached and those of older builds are dropped.
// - Navigations: network first (a new build shows at once), else the cached index.html
//   (the app routes on the client, every page is index.html).
// - Files with a hash in their name: cache first; such a name always means the same bytes.
// - Other files of this origin: network first, else the cache.

const SHELL = "meshdrop-shell";
const SHARED = "meshdrop-shared";
const INDEX = "/";
/// Files under stable names that the app needs offline besides what index.html names.
const STABLE_FILES = [
  "/opfs-writer.js",
  "/manifest.webmanifest",
  "/icon-192.png",
  "/icon-512.png",
  "/icon-maskable-512.png",
];
/// Where the manifest's share_target posts shared files.
const SHARE_TARGET = "/share-target";
/// Trunk's names: `name-<hash>.ext` or `name-<hash>_bg.wasm`.
const FINGERPRINTED = /-[0-9a-f]{12,16}(_bg)?\.[a-z0-9]+$/;
/// Paths that are the server's own, never the app's.
const SERVER_PATHS = ["/ws", "/healthz", "/metrics"];

self.addEventListener("install", (event) => {
  event.waitUntil(fetch(INDEX).then(refreshShell).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || SERVER_PATHS.includes(url.pathname)) {
    return;
  }
  if (request.method === "POST" && url.pathname === SHARE_TARGET) {
    event.respondWith(receiveShared(request));
  } else if (request.method !== "GET") {
    return;
  } else if (request.mode === "navigate") {
    event.respondWith(navigation(request));
  } else if (FINGERPRINTED.test(url.pathname)) {
    event.respondWith(cacheFirst(request));
  } else {
    event.respondWith(networkFirst(request));
  }
});

// A click on a notification brings the app to the front.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window" }).then((windows) =>
      windows.length > 0 ? windows[0].focus() : self.clients.openWindow(INDEX),
    ),
  );
});

async function navigation(request) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      await refreshShell(response.clone());
    }
    return response;
  } catch (offline) {
    const cached = await caches.match(INDEX, { cacheName: SHELL });
    if (cached) {
      return cached;
    }
    throw offline;
  }
}

async function cacheFirst(request) {
  const cached = await caches.match(request, { cacheName: SHELL });
  if (cached) {
    return cached;
  }
  const response = await fetch(request);
  if (response.ok) {
    const cache = await caches.open(SHELL);
    await cache.put(request, response.clone());
  }
  return response;
}

async function networkFirst(request) {
  try {
    const response = await fetch(request);
    if (response.ok && STABLE_FILES.includes(new URL(request.url).pathname)) {
      const cache = await caches.open(SHELL);
      await cache.put(request, response.clone());
    }
    return response;
  } catch (offline) {
    const cached = await caches.match(request, { cacheName: SHELL, ignoreSearch: true });
    if (cached) {
      return cached;
    }
    throw offline;
  }
}

/// Caches index.html from `response`, every file it names and the stable files, and
/// drops the hashed files of older builds.
async function refreshShell(response) {
  if (!response.ok) {
    return;
  }
  const html = await response.clone().text();
  const named = [...html.matchAll(/["'](\/[^"'?#]+\.(?:js|wasm|css|svg|png))["']/g)].map(
    (match) => match[1],
  );
  const wanted = new Set([...named, ...STABLE_FILES]);
  const cache = await caches.open(SHELL);
  await cache.put(INDEX, response);
  for (const stale of await cache.keys()) {
    const path = new URL(stale.url).pathname;
    if (path !== INDEX && !wanted.has(path)) {
      await cache.delete(stale);
    }
  }
  for (const path of wanted) {
    if (!(await cache.match(path))) {
      // One missing file must not keep the others out of the cache.
      await cache.add(path).catch(() => {});
    }
  }
}

/// Keeps the shared files in the SHARED cache, where the app finds them (see
/// client/src/pwa.rs), and opens the app.
async function receiveShared(request) {
  const form = await request.formData();
  const cache = await caches.open(SHARED);
  const files = form.getAll("files").filter((file) => file instanceof File);
  const stamp = Date.now();
  for (const [index, file] of files.entries()) {
    const headers = {
      "content-type": file.type || "application/octet-stream",
      "x-file-name": encodeURIComponent(file.name),
      "x-last-modified": String(file.lastModified),
    };
    await cache.put(`/shared/${stamp}-${index}`, new Response(file, { headers }));
  }
  return Response.redirect(INDEX, 303);
}
