//! HTTPS and WSS without a proxy in front: certificates from PEM files, and a listener
//! that hands the HTTP server connections only once their TLS handshake is done.
//!
//! Handshakes run as tasks of their own, with a deadline, so a client that connects and
//! then stalls holds up nobody else. Browsers need a secure context for WebRTC and
//! the app's storage, so a server reached by anything but `localhost` needs HTTPS,
//! from here or from a proxy.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::timeout;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::admission::Accept;

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A certificate and key that could not be made into a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read PEM certificates from {path}: {source}")]
    Certificates { path: PathBuf, source: pem::Error },
    #[error("cannot read a PEM private key from {path}: {source}")]
    Key { path: PathBuf, source: pem::Error },
    #[error("the private key does not fit the certificate: {0}")]
    Mismatch(rustls::Error),
}

/// What the server needs to speak TLS: a certificate chain and its key.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ServerConfig>,
}

impl fmt::Debug for Tls {
    /// Says nothing about the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tls { .. }")
    }
}

impl Tls {
    /// Load the certificate chain (leaf first) and the private key (PKCS#8, PKCS#1 or
    /// SEC1) from PEM files, and check that they belong together.
    pub fn from_pem_files(certificates: &Path, key: &Path) -> Result<Self, TlsError> {
        let chain = read_chain(certificates).map_err(|source| TlsError::Certificates {
            path: certificates.to_owned(),
            source,
        })?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key {
            path: key.to_owned(),
            source,
        })?;
        // The provider is named rather than taken from the process default, which is
        // ambiguous when more than one is compiled in.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Mismatch)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(TlsError::Mismatch)?;
        // The HTTP server speaks HTTP/1.1, which WebSockets need anyway.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }
}

impl Tls {
    /// The same certificate for TURN over TLS, which announces "stun.turn" (RFC 7443)
    /// rather than HTTP.
    pub(crate) fn for_turn(&self) -> Self {
        let mut config = ServerConfig::clone(&self.config);
        config.alpn_protocols = vec![b"stun.turn".to_vec()];
        Self {
            config: Arc::new(config),
        }
    }
}

/// Every certificate in the PEM file at `path`; at least one.
fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, pem::Error> {
    let chain = CertificateDer::pem_file_iter(path)?.collect::<Result<Vec<_>, _>>()?;
    if chain.is_empty() {
        return Err(pem::Error::NoItemsFound);
    }
    Ok(chain)
}

/// Takes TCP connections from `tcp` and yields them once their TLS handshake succeeded.
/// Over [`crate::admission::Admitting`], connections are admitted before the handshake,
/// so handshakes count against the caps.
pub struct TlsListener<A: Accept<Io = TcpStream>> {
    tcp: A,
    acceptor: TlsAcceptor,
    /// Aborted when the listener is dropped, like the connections they would become.
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, A::Addr)>>,
}

impl<A: Accept<Io = TcpStream>> TlsListener<A> {
    pub fn new(tcp: A, tls: &Tls) -> Self {
        Self {
            tcp,
            acceptor: TlsAcceptor::from(Arc::clone(&tls.config)),
            handshakes: JoinSet::new(),
        }
    }

    fn start_handshake(&mut self, stream: TcpStream, peer: A::Addr) {
        let acceptor = self.acceptor.clone();
        self.handshakes.spawn(async move {
            match timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => Some((stream, peer)),
                Ok(Err(error)) => {
                    tracing::debug!(?peer, %error, "TLS handshake failed");
                    None
                }
                Err(_) => {
                    tracing::debug!(?peer, "TLS handshake timed out");
                    None
                }
            }
        });
    }
}

impl<A: Accept<Io = TcpStream>> Accept for TlsListener<A> {
    type Io = TlsStream<TcpStream>;
    type Addr = A::Addr;

    async fn accept(&mut self) -> (Self::Io, A::Addr) {
        loop {
            tokio::select! {
                (stream, peer) = self.tcp.accept() => self.start_handshake(stream, peer),
                // `None` only when no handshake is running; the branch then waits
                // for the next accept.
                Some(finished) = self.handshakes.join_next() => {
                    if let Ok(Some(done)) = finished {
                        return done;
                    }
                }
            }
        }
    }
}
