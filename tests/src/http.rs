//! The server side of the local stand-ins (Telegram sink, exchanges, diagnostics API, Lambda runtime API, fault
//! proxy): hyper's HTTP/1.1 server, with each request handed over whole and one request per connection (no
//! keep-alive: a stand-in that stops listening refuses the very next request, as a server that went down does). A request's head must arrive within
//! [`READ_TIMEOUT`] (hyper's header timeout) and its body within the same time and under [`MAX_BODY`]: a client that
//! stops sending gets a 408, a body cut short or too long a 400, and the handler never sees either.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How long a request's head, and then its body, may take to arrive.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest body a stand-in reads.
pub const MAX_BODY: usize = 1 << 20;

pub struct HttpRequest {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// A header's value (`name` in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Query parameters in order, percent-decoded (`+` is a space); a name may repeat.
    pub fn query(&self) -> Vec<(String, String)> {
        let Some((_, q)) = self.target.split_once('?') else {
            return Vec::new();
        };
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect()
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 2;
            }
            (other, _) => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A stand-in's answer: JSON unless `headers` name another content type.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// With extra headers (`allow` on a 405, as RFC 9110 asks; the runtime API's invocation headers).
    pub fn with_headers(mut self, headers: impl IntoIterator<Item = (String, String)>) -> Self {
        self.headers.extend(headers);
        self
    }

    fn into_hyper(self) -> hyper::Response<Full<Bytes>> {
        let mut builder = hyper::Response::builder().status(self.status);
        if !self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            builder = builder.header("content-type", "application/json");
        }
        for (k, v) in &self.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        builder.body(Full::new(Bytes::from(self.body))).unwrap_or_else(|e| {
            let mut r = hyper::Response::new(Full::new(Bytes::from(format!("bad response: {e}"))));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
    }
}

/// Serves `handler` on `listener` until the returned task is aborted: every connection on its own task, every
/// request read whole first (or answered 408/400 without the handler).
pub fn serve<H, F>(listener: TcpListener, handler: H) -> JoinHandle<()>
where
    H: Fn(HttpRequest) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    serve_within(listener, READ_TIMEOUT, handler)
}

/// [`serve`] with another read timeout.
pub fn serve_within<H, F>(listener: TcpListener, limit: Duration, handler: H) -> JoinHandle<()>
where
    H: Fn(HttpRequest) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let service = hyper::service::service_fn(move |req| answer(handler.clone(), limit, req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limit)
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    })
}

async fn answer<H, F>(
    handler: H,
    limit: Duration,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible>
where
    H: Fn(HttpRequest) -> F,
    F: Future<Output = HttpResponse>,
{
    let (parts, body) = req.into_parts();
    let body = match tokio::time::timeout(limit, Limited::new(body, MAX_BODY).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes().to_vec(),
        Ok(Err(e)) => return Ok(HttpResponse::new(400, format!(r#"{{"error":"body unreadable: {e}"}}"#)).into_hyper()),
        Err(_) => return Ok(HttpResponse::new(408, r#"{"error":"body not complete in time"}"#).into_hyper()),
    };
    let request = HttpRequest {
        method: parts.method.to_string(),
        target: parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    };
    Ok(handler(request).await.into_hyper())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn query_strings_are_decoded_and_keep_repeats() {
        let r = HttpRequest {
            method: "GET".into(),
            target: "/p?hours=12&side=b%55y&x=a+b&limit=1&limit=2&bad=%zz".into(),
            headers: vec![],
            body: vec![],
        };
        assert_eq!(r.path(), "/p");
        let q = r.query();
        assert_eq!(q[1], ("side".to_string(), "bUy".to_string()));
        assert_eq!(q[2].1, "a b");
        assert_eq!(q.iter().filter(|(k, _)| k == "limit").count(), 2);
        assert_eq!(q[5].1, "%zz");
    }

    /// Sends raw bytes (then, with `close`, ends the sending side) and returns the status line of the answer.
    async fn status_of(raw: &'static [u8], close: bool) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limit = Duration::from_millis(200);
        let server = serve_within(listener, limit, |req: HttpRequest| async move {
            HttpResponse::new(200, req.body)
        });
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(raw).await.unwrap();
        if close {
            c.shutdown().await.unwrap();
        }
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut answer)).await;
        server.abort();
        String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// A body that stops arriving gets a 408 (after the read timeout), one cut short a 400, and a whole one reaches
    /// the handler.
    #[tokio::test]
    async fn a_request_that_does_not_arrive_whole_never_reaches_the_handler() {
        let stalled = status_of(
            b"POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nshort",
            false,
        )
        .await;
        assert!(stalled.starts_with("HTTP/1.1 408"), "{stalled}");
        let cut = status_of(b"POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nshort", true).await;
        assert!(cut.starts_with("HTTP/1.1 400"), "{cut}");
        let whole = status_of(
            b"POST /x HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 5\r\n\r\nwhole",
            false,
        )
        .await;
        assert!(whole.starts_with("HTTP/1.1 200"), "{whole}");
    }
}
