//! Signed links to the operator page (docs/OPERATIONS.md, "The operator page in a browser"). A browser cannot send
//! the diagnostics key in a header, and the key must never sit in a URL (browser history, screenshots, a forwarded
//! chat). So `/page` in Telegram answers with `{base}/api/diagnostics/page?expires=UNIX&sig=HEX`, where `sig` is
//! HMAC-SHA256 under the diagnostics key of `operator-page:v1:{expires}`: good for [`VALID_FOR_SECONDS`], for the
//! page only, and void when the key is rotated. The authorizer and the diagnostics function both check it.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::adapters::secrets::SecretString;

/// The page's route: the same report as the JSON API, as HTML, opened by a signed link instead of the key.
pub const PAGE_ROUTE: &str = "/api/diagnostics/page";
/// How long a link opens the page: 15 minutes.
pub const VALID_FOR_SECONDS: i64 = 15 * 60;
/// The clock skew tolerated between the signer and the checker, on the far side only (a link never lives longer).
const SKEW_SECONDS: i64 = 60;

/// Why a link does not open the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link has no expires or sig parameter")]
    Missing,
    #[error("the link's expires or sig is not well formed")]
    Malformed,
    #[error("the link has expired")]
    Expired,
    #[error("the link claims to be valid for longer than links are made")]
    TooLong,
    #[error("the link's signature is wrong")]
    BadSignature,
}

fn mac(key: &SecretString, expires: i64) -> Hmac<Sha256> {
    // HMAC takes keys of any length: new_from_slice cannot fail for Hmac<Sha256>.
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(format!("operator-page:v1:{expires}").as_bytes());
    mac
}

/// The link `base` + [`PAGE_ROUTE`] valid until `now` + [`VALID_FOR_SECONDS`], and that time.
pub fn link(base: &str, key: &SecretString, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
    let expires = now.timestamp() + VALID_FOR_SECONDS;
    let sig = hex::encode(mac(key, expires).finalize().into_bytes());
    let until = DateTime::from_timestamp(expires, 0).unwrap_or(now);
    let base = base.trim_end_matches('/');
    (format!("{base}{PAGE_ROUTE}?expires={expires}&sig={sig}"), until)
}

/// Checks a link's `expires` and `sig` at `now` (the signature compared in constant time).
pub fn check(
    key: &SecretString,
    expires: Option<&str>,
    sig: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), LinkError> {
    let (Some(expires), Some(sig)) = (expires, sig) else {
        return Err(LinkError::Missing);
    };
    let expires: i64 = expires.parse().map_err(|_| LinkError::Malformed)?;
    let sig = hex::decode(sig).map_err(|_| LinkError::Malformed)?;
    if expires <= now.timestamp() {
        return Err(LinkError::Expired);
    }
    if expires > now.timestamp() + VALID_FOR_SECONDS + SKEW_SECONDS {
        return Err(LinkError::TooLong);
    }
    mac(key, expires)
        .verify_slice(&sig)
        .map_err(|_| LinkError::BadSignature)
}

/// `name`'s value in a raw query string (`a=1&b=2`); the link's parameters are digits and hex, never encoded.
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> SecretString {
        SecretString::new(k.into())
    }

    fn parts(url: &str) -> (String, String) {
        let query = url.split_once('?').unwrap().1;
        let get = |n| query_param(query, n).unwrap().to_string();
        (get("expires"), get("sig"))
    }

    #[test]
    fn a_link_opens_the_page_for_fifteen_minutes_and_never_carries_the_key() {
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
        let (url, until) = link("https://api.example/", &key("diagnostics-key-0123456789"), now);
        assert!(
            url.starts_with("https://api.example/api/diagnostics/page?expires="),
            "{url}"
        );
        assert!(!url.contains("diagnostics-key"), "{url}");
        assert_eq!((until - now).num_seconds(), VALID_FOR_SECONDS);
        let (e, s) = parts(&url);
        let k = key("diagnostics-key-0123456789");
        let at = |secs: i64| now + chrono::Duration::seconds(secs);
        assert_eq!(check(&k, Some(&e), Some(&s), now), Ok(()));
        assert_eq!(check(&k, Some(&e), Some(&s), at(VALID_FOR_SECONDS - 2)), Ok(()));
        assert_eq!(
            check(&k, Some(&e), Some(&s), at(VALID_FOR_SECONDS + 1)),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn a_changed_expiry_another_key_or_a_bad_parameter_is_refused() {
        let now = Utc::now();
        let k = key("diagnostics-key-0123456789");
        let (e, s) = parts(&link("https://x", &k, now).0);
        let later = (e.parse::<i64>().unwrap() + 60).to_string();
        assert_eq!(check(&k, Some(&later), Some(&s), now), Err(LinkError::BadSignature));
        assert_eq!(
            check(&key("rotated-key-0123456789"), Some(&e), Some(&s), now),
            Err(LinkError::BadSignature)
        );
        assert_eq!(check(&k, Some(&e), None, now), Err(LinkError::Missing));
        assert_eq!(check(&k, Some("soon"), Some(&s), now), Err(LinkError::Malformed));
        assert_eq!(check(&k, Some(&e), Some("zz"), now), Err(LinkError::Malformed));
        // Signed with the key for a day: only a holder of the key could, and still it is refused.
        let day = now.timestamp() + 86_400;
        let sig = hex::encode(mac(&k, day).finalize().into_bytes());
        assert_eq!(
            check(&k, Some(&day.to_string()), Some(&sig), now),
            Err(LinkError::TooLong)
        );
    }
}
