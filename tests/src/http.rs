//! A minimal HTTP/1.1 server side for the local stand-ins (Telegram sink, diagnostics API): one request per
//! connection, `Content-Length` bodies, `connection: close`. Enough for loopback tools; not a general server. A
//! request must arrive whole within [`READ_TIMEOUT`] and its body must be as long as its `Content-Length` says: a
//! client that stops sending never holds a connection forever.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct HttpRequest {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
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

/// How long a whole request may take to arrive.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads one request within [`READ_TIMEOUT`]; None when the peer closed without sending one. A request that does
/// not arrive in time is a `TimedOut` error; a body shorter than its `Content-Length`, an `UnexpectedEof` one.
pub async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<HttpRequest>> {
    read_request_within(stream, READ_TIMEOUT).await
}

pub async fn read_request_within(stream: &mut TcpStream, limit: Duration) -> std::io::Result<Option<HttpRequest>> {
    tokio::time::timeout(limit, read_whole(stream)).await.map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("request not complete within {} ms", limit.as_millis()),
        )
    })?
}

/// The status a server answers a request it could not read with.
pub fn unreadable_status(e: &std::io::Error) -> u16 {
    if e.kind() == std::io::ErrorKind::TimedOut {
        408
    } else {
        400
    }
}

async fn read_whole(stream: &mut TcpStream) -> std::io::Result<Option<HttpRequest>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return Err(std::io::Error::other("request head too large"));
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap_or_default().split_whitespace();
    let (method, target) = (
        request_line.next().unwrap_or_default().to_string(),
        request_line.next().unwrap_or_default().to_string(),
    );
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    if length > 1 << 20 {
        return Err(std::io::Error::other("request body too large"));
    }
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "body shorter than its Content-Length",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[header_end..buf.len().min(header_end + length)].to_vec();
    Ok(Some(HttpRequest {
        method,
        target,
        headers,
        body,
    }))
}

pub async fn write_response(stream: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    write_response_with(stream, status, &[], body).await
}

/// [`write_response`] with extra headers (`allow` on a 405, as RFC 9110 asks).
pub async fn write_response_with(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    // JSON unless the caller names another content type.
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        head.push_str("content-type: application/json\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

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

    async fn send_and_read(head_and_body: &'static [u8], close: bool) -> std::io::Result<Option<HttpRequest>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(head_and_body).await.unwrap();
            if close {
                c.shutdown().await.unwrap();
            }
            // Keep the connection open (without sending more) until the server gives up.
            tokio::time::sleep(Duration::from_secs(2)).await;
        });
        let (mut stream, _) = listener.accept().await.unwrap();
        let r = read_request_within(&mut stream, Duration::from_millis(200)).await;
        client.abort();
        r
    }

    #[tokio::test]
    async fn a_request_shorter_than_its_content_length_does_not_hold_the_connection() {
        let stalled = send_and_read(b"POST /x HTTP/1.1\r\ncontent-length: 100\r\n\r\nshort", false).await;
        let e = stalled.err().expect("a stalled body is an error");
        assert_eq!((e.kind(), unreadable_status(&e)), (std::io::ErrorKind::TimedOut, 408));
        let cut = send_and_read(b"POST /x HTTP/1.1\r\ncontent-length: 100\r\n\r\nshort", true).await;
        let e = cut.err().expect("a cut body is an error");
        assert_eq!(
            (e.kind(), unreadable_status(&e)),
            (std::io::ErrorKind::UnexpectedEof, 400)
        );
        let whole = send_and_read(b"POST /x HTTP/1.1\r\ncontent-length: 5\r\n\r\nwhole", false).await;
        assert_eq!(whole.unwrap().unwrap().body, b"whole");
    }
}
