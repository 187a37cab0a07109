//! The echo exchange's request signing: `x-echo-signature = hex(HMAC-SHA256(api_secret, method + "\n" + body))`,
//! over the exact body bytes sent (the JSON with its nonce), so a stand-in checks it without re-encoding anything.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The lowercase hex signature of one request.
pub fn sign(secret: &str, method: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length; new_from_slice cannot fail for Hmac<Sha256>.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(method.as_bytes());
    mac.update(b"\n");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed vector (computed once with Python's `hmac` module) and its sensitivity to each input.
    #[test]
    fn signs_method_and_body() {
        let body = br#"{"nonce":1,"params":{}}"#;
        let sig = sign("s3cret", "open-orders", body);
        assert_eq!(sig, "6281de8ac154c535d145eadb24a1a85a94919d83b31cbce1d08b4f8265a20d71");
        assert_ne!(sign("s3cret", "order", body), sig);
        assert_ne!(sign("other", "open-orders", body), sig);
        assert_ne!(sign("s3cret", "open-orders", br#"{"nonce":2,"params":{}}"#), sig);
    }
}
