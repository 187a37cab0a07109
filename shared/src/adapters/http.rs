//! The HTTP client of the Crypto.com and Telegram adapters.
//!
//! TLS is rustls over **aws-lc-rs**, the crypto library the AWS SDK's client already links (`aws.rs`), so a binary
//! carries one TLS crypto library instead of two (reqwest's default rustls build brings `ring`); the Mozilla root
//! certificates are compiled in as trust anchors (`webpki-roots`, no parsing and no platform store read at cold
//! start). HTTP/1.1 only: two small JSON APIs need nothing more.

use std::sync::Arc;
use std::time::Duration;

/// Why a client could not be built (a TLS setup or HTTP client error; neither depends on input).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// A client with the project's TLS settings; `timeout` bounds each whole request.
pub fn client(timeout: Duration) -> Result<reqwest::Client, ClientError> {
    Ok(builder()?.timeout(timeout).build()?)
}

/// The builder behind [`client`], for callers that set more (the local tools). Trusts the test CA of
/// `TEST_CA_FILE` too, beside a local endpoint only (`aws::test_ca_pem`).
pub fn builder() -> Result<reqwest::ClientBuilder, ClientError> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = crate::adapters::aws::test_ca_pem() {
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()).flatten() {
            roots.add(cert)?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder().use_preconfigured_tls(tls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_the_compiled_in_roots() {
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        client(Duration::from_secs(1)).unwrap();
    }
}
