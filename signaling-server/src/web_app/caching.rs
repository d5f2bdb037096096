//! How long browsers may keep the web app's files.
//!
//! Trunk puts a content hash in the names of the files it builds (`styles-1a2b….css`,
//! `meshdrop-client-1a2b…_bg.wasm`): such a name always means the same bytes, so those
//! files are `immutable` for a year. Everything else (`index.html`, which names the
//! hashed files of the current build, the service worker, the manifest, the icons) may
//! change under the same name: browsers must revalidate it on each use (`no-cache`),
//! and an `ETag` makes that revalidation a `304` without a body when nothing changed.

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// For files whose name changes whenever their content does.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// For files served under a stable name.
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// Files larger than this get no `ETag` (hashing means holding the whole body): the
/// app's files with stable names are a few kilobytes.
const ETAG_MAX_BYTES: usize = 4 << 20;

/// Trunk's hashes are a `u64` in hex without leading zeros: 16 digits, rarely fewer.
/// Fewer than 12 is taken as a word, not a hash, and only costs a revalidation.
const HASH_DIGITS: std::ops::RangeInclusive<usize> = 12..=16;

/// Middleware for the file routes: adds `Cache-Control`, and for revalidated files an
/// `ETag`, answering `If-None-Match` with `304 Not Modified`.
pub async fn cache_headers(request: Request, next: Next) -> Response {
    let fingerprinted = is_fingerprinted(request.uri().path());
    let is_get = request.method() == Method::GET;
    let if_none_match = request.headers().get(IF_NONE_MATCH).cloned();
    let mut response = next.run(request).await;
    if !matches!(response.status(), StatusCode::OK | StatusCode::NOT_MODIFIED) {
        return response;
    }
    // An unknown path that merely looks hashed is answered with index.html.
    if fingerprinted && !is_html(response.headers()) {
        response.headers_mut().insert(CACHE_CONTROL, IMMUTABLE);
        return response;
    }
    response.headers_mut().insert(CACHE_CONTROL, REVALIDATE);
    if is_get && response.status() == StatusCode::OK && fits_in_memory(&response) {
        return with_etag(response, if_none_match).await;
    }
    response
}

/// True when the last segment of the file name's stem is a Trunk content hash.
fn is_fingerprinted(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        HASH_DIGITS.contains(&hash.len()) && hash.bytes().all(|byte| byte.is_ascii_hexdigit())
    })
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"))
}

/// Whether the body is known to be small enough to hash: from `Content-Length` (files
/// from a directory) or from the body itself (files built into the binary).
fn fits_in_memory(response: &Response) -> bool {
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    declared
        .or_else(|| response.body().size_hint().exact())
        .is_some_and(|length| length <= ETAG_MAX_BYTES as u64)
}

/// Adds an `ETag` from the body's SHA-256, or answers `304` if the browser has it.
/// Weak, because compression further out changes the bytes but not the meaning.
async fn with_etag(response: Response, if_none_match: Option<HeaderValue>) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, ETAG_MAX_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let digest = hex::encode(&Sha256::digest(&bytes)[..16]);
    let etag = HeaderValue::from_str(&format!("W/\"{digest}\""))
        .expect("hex digits are a valid header value");
    if if_none_match.is_some_and(|tags| matches_any(&tags, &digest)) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        let headers = not_modified.headers_mut();
        headers.insert(ETAG, etag);
        headers.insert(CACHE_CONTROL, REVALIDATE);
        return not_modified;
    }
    parts.headers.insert(ETAG, etag);
    Response::from_parts(parts, Body::from(bytes))
}

/// `If-None-Match` holds `*` or a list of entity tags, compared weakly (RFC 9110 13.1.2).
fn matches_any(tags: &HeaderValue, digest: &str) -> bool {
    let Ok(tags) = tags.to_str() else {
        return false;
    };
    tags.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_names_are_fingerprinted() {
        assert!(is_fingerprinted("/meshdrop-client-9f86d081884c7d65.js"));
        assert!(is_fingerprinted(
            "/meshdrop-client-9f86d081884c7d65_bg.wasm"
        ));
        assert!(is_fingerprinted("/styles-86d081884c7d65.css"));
        assert!(is_fingerprinted("/icon-0123456789abcdef.svg"));
    }

    #[test]
    fn stable_names_are_not() {
        for path in [
            "/",
            "/index.html",
            "/sw.js",
            "/manifest.webmanifest",
            "/icon-192.png",
            "/icon-maskable-512.png",
            "/opfs-writer.js",
            "/room/quiet-otter",
        ] {
            assert!(!is_fingerprinted(path), "{path}");
        }
    }

    #[test]
    fn if_none_match_is_compared_weakly_and_by_list() {
        let matches = |tags: &'static str| matches_any(&HeaderValue::from_static(tags), "ab12");
        assert!(matches("W/\"ab12\""));
        assert!(matches("\"ab12\""));
        assert!(matches("\"zz\", W/\"ab12\""));
        assert!(matches("*"));
        assert!(!matches("W/\"ab1\""));
        assert!(!matches(""));
    }
}
