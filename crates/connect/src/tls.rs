//! TLS with rustls and the ring provider (no OpenSSL on the target servers).
//! Trust anchors: the Mozilla roots plus an optional private CA, since
//! administrations often run an internal PKI.

use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// Build a client configuration. Errors are plain strings: callers wrap them with
/// the mailbox name.
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read CA file '{}': {e}", path.display()))?;
        let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_slice())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("CA file '{}' is not PEM: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("CA file '{}' holds no certificate", path.display()));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("CA file '{}': {e}", path.display()))?;
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Handshake over an open TCP connection, checking the certificate against `host`.
pub(crate) async fn handshake(
    tcp: TcpStream,
    host: &str,
    ca_file: Option<&Path>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let config = client_config(ca_file)?;
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| format!("'{host}' is not a valid TLS server name: {e}"))?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("certificate or handshake refused: {e}"))
}
