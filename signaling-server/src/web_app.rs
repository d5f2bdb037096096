//! The web app's files, from a directory or built into the binary.
//!
//! A directory ([`Config::static_dir`](crate::Config::static_dir)) wins. Without one, a
//! binary built with the `embed-web` feature serves the `dist/` that Trunk had built
//! when the binary was compiled, so a single file is the whole deployment.
//!
//! Either way, paths that name no file get `index.html` (the app routes on the client
//! side), content types follow the file extension, browsers are told how long to keep
//! each file (see [`caching`]), and responses are compressed with brotli or gzip when the
//! browser accepts it.

mod caching;

use std::path::Path;

use axum::middleware;
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};

/// The routes that serve the app, or `None` when there is no app to serve.
pub fn router(static_dir: Option<&Path>) -> Option<Router> {
    let files = match static_dir {
        Some(dir) => Router::new()
            .fallback_service(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")))),
        None => embedded::router()?,
    };
    Some(
        files
            .layer(middleware::from_fn(caching::cache_headers))
            .layer(CompressionLayer::new()),
    )
}

#[cfg(feature = "embed-web")]
mod embedded {
    use axum::http::{header, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};
    use axum::Router;

    /// The workspace's `dist/` as it was at compile time.
    #[derive(rust_embed::Embed)]
    #[folder = "../dist"]
    struct Dist;

    const INDEX: &str = "index.html";

    pub fn router() -> Option<Router> {
        Some(Router::new().fallback(file))
    }

    async fn file(uri: Uri) -> Response {
        let path = uri.path().trim_start_matches('/');
        let file = Dist::get(path)
            .filter(|_| !path.is_empty())
            .or_else(|| Dist::get(INDEX));
        match file {
            Some(file) => {
                let content_type = file.metadata.mimetype().to_owned();
                ([(header::CONTENT_TYPE, content_type)], file.data).into_response()
            }
            // Only if the embedded dist/ had no index.html.
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
}

#[cfg(not(feature = "embed-web"))]
mod embedded {
    /// Built without the app inside: nothing to serve.
    pub fn router() -> Option<axum::Router> {
        None
    }
}
