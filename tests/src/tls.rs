//! TLS on the local stack: a test-only certificate authority and a TLS-terminating HTTP proxy in front of a plain
//! local endpoint (the emulator, a stand-in), so a function can be measured and tested with every endpoint behind
//! TLS. The functions trust the CA through the test setting `TEST_CA_FILE`, which they honour only beside a local
//! endpoint (`shared::adapters::aws::test_ca_pem`).
//!
//! The chain has the shape of an AWS endpoint's: an RSA root, an RSA intermediate, and an RSA 2048 leaf for
//! `localhost` and `127.0.0.1`; the proxy sends the leaf and the intermediate, so a client verifies two signatures
//! as it does against DynamoDB. A fresh CA per run: nothing is stored, nothing outlives the process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    PKCS_RSA_SHA256,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

use crate::provision::BoxError;

/// A root CA (its PEM, what `TEST_CA_FILE` names) and the server chain and key it issued.
pub struct TestCa {
    pub root_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn ca_params(name: &str) -> Result<CertificateParams, BoxError> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(p)
}

/// The keys of a [`TestCa`]: RSA 2048 as AWS endpoints serve (the bench), or ECDSA P-256, generated in
/// milliseconds even in a debug build (the tests).
#[derive(Debug, Clone, Copy)]
pub enum Keys {
    Rsa,
    Ecdsa,
}

impl Keys {
    fn generate(self) -> Result<KeyPair, rcgen::Error> {
        match self {
            Keys::Rsa => KeyPair::generate_for(&PKCS_RSA_SHA256),
            Keys::Ecdsa => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
        }
    }
}

impl TestCa {
    /// Generates the root, the intermediate and the `localhost` / `127.0.0.1` leaf.
    pub fn generate(keys: Keys) -> Result<TestCa, BoxError> {
        let root_key = keys.generate()?;
        let root = ca_params("local test root CA (not for production)")?.self_signed(&root_key)?;
        let mid_key = keys.generate()?;
        let mid = ca_params("local test intermediate CA")?.signed_by(&mid_key, &root, &root_key)?;
        let leaf_key = keys.generate()?;
        let mut leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
        leaf.distinguished_name.push(DnType::CommonName, "localhost");
        let leaf = leaf.signed_by(&leaf_key, &mid, &mid_key)?;
        Ok(TestCa {
            root_pem: root.pem(),
            chain: vec![leaf.der().clone(), mid.der().clone()],
            key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()),
        })
    }

    /// Writes the root's PEM to a file of the temporary folder (for `TEST_CA_FILE`); its path.
    pub fn write_root(&self, name: &str) -> Result<std::path::PathBuf, BoxError> {
        let path = std::env::temp_dir().join(format!("{name}-{}.pem", std::process::id()));
        std::fs::write(&path, &self.root_pem)?;
        Ok(path)
    }

    fn server_config(&self) -> Result<rustls::ServerConfig, BoxError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Ok(rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), PrivateKeyDer::Pkcs8(self.key.clone_key()))?)
    }
}

/// A TLS-terminating HTTP/1.1 proxy on 127.0.0.1: each request is answered on its client's kept-alive TLS connection
/// and forwarded, in plain, to `upstream`. Kept alive as an AWS endpoint keeps it, even though the emulator closes
/// every connection after its answer (a byte-level proxy would make each request a new handshake: 7 in one cold
/// start). Counts the handshakes it completed and the requests it forwarded. Stops with the runtime.
pub struct TlsProxy {
    /// `https://localhost:PORT`.
    pub url: String,
    handshakes: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

type Reply = hyper::Response<Full<Bytes>>;

impl TlsProxy {
    /// `upstream`: a plain `http://host:port` URL.
    pub async fn start(ca: &TestCa, upstream: &str) -> Result<TlsProxy, BoxError> {
        let upstream = upstream.trim_end_matches('/').to_string();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.server_config()?));
        let client = shared::adapters::http::client(std::time::Duration::from_secs(60))?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("https://localhost:{}", listener.local_addr()?.port());
        let (handshakes, requests) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (counted, asked) = (handshakes.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, upstream, client, counted, asked) = (
                    acceptor.clone(),
                    upstream.clone(),
                    client.clone(),
                    counted.clone(),
                    asked.clone(),
                );
                tokio::spawn(async move {
                    let _ = tcp.set_nodelay(true);
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    counted.fetch_add(1, Ordering::SeqCst);
                    let service = hyper::service::service_fn(move |req| {
                        asked.fetch_add(1, Ordering::SeqCst);
                        forward(client.clone(), upstream.clone(), req)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(TlsProxy {
            url,
            handshakes,
            requests,
        })
    }

    /// TLS handshakes completed so far.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    /// Requests forwarded so far (one round trip each).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// One request, as received, to `upstream`; its answer back without the upstream's connection headers (502 when
/// the upstream cannot be reached).
async fn forward(
    client: reqwest::Client,
    upstream: String,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<Reply, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = client.request(parts.method, format!("{upstream}{target}")).body(body);
    for (name, value) in &parts.headers {
        if !matches!(name.as_str(), "connection" | "keep-alive" | "transfer-encoding") {
            request = request.header(name, value);
        }
    }
    let bad_gateway = |e: String| {
        let mut r = Reply::new(Full::new(Bytes::from(e)));
        *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
        r
    };
    let Ok(resp) = request.send().await else {
        return Ok(bad_gateway("upstream unreachable".into()));
    };
    let (status, headers) = (resp.status(), resp.headers().clone());
    let Ok(bytes) = resp.bytes().await else {
        return Ok(bad_gateway("upstream answer lost".into()));
    };
    let mut reply = Reply::new(Full::new(bytes));
    *reply.status_mut() = status;
    for (name, value) in &headers {
        if !matches!(name.as_str(), "connection" | "keep-alive" | "transfer-encoding") {
            reply.headers_mut().append(name, value.clone());
        }
    }
    Ok(reply)
}
