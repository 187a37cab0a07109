//! Secrets Manager adapter. Secret values are held in [`SecretString`], which never prints its content.

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_secretsmanager::Client;

use crate::ports::StoreError;

/// A secret value: `Debug` and `Display` print a placeholder, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    /// The only way to the value: call sites are easy to find and review.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when `given` is this secret. Compares SHA-256 digests of both in constant time: neither the content nor
    /// the length of the secret shows in the timing.
    pub fn matches(&self, given: &[u8]) -> bool {
        use sha2::{Digest, Sha256};
        let (a, b) = (Sha256::digest(given), Sha256::digest(self.0.as_bytes()));
        a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Reads a JSON-object secret (`{"api_key": "...", ...}`) into named secret fields.
pub async fn json_secret(client: &Client, secret_id: &str) -> Result<BTreeMap<String, SecretString>, StoreError> {
    let resp = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            let why = aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string();
            StoreError::backend("GetSecretValue", format!("secret {secret_id}: {why}"))
        })?;
    let raw = resp
        .secret_string()
        .ok_or_else(|| StoreError::Corrupt(format!("secret {secret_id} has no string value")))?;
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(raw)
        .map_err(|_| StoreError::Corrupt(format!("secret {secret_id} is not a JSON object of strings")))?;
    map.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, SecretString::new(s))),
            _ => Err(StoreError::Corrupt(format!(
                "secret {secret_id} field {k} is not a string"
            ))),
        })
        .collect()
}

/// Takes field `name` of secret `id` (read with [`json_secret`]): a key callers must present, so at least 16
/// characters.
pub fn key_field(
    fields: &mut BTreeMap<String, SecretString>,
    id: &str,
    name: &str,
) -> Result<SecretString, StoreError> {
    let value = fields
        .remove(name)
        .ok_or_else(|| StoreError::Corrupt(format!("secret {id} lacks {name}")))?;
    if value.expose().len() < 16 {
        return Err(StoreError::Corrupt(format!(
            "secret {id}: {name} is shorter than 16 characters"
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = SecretString::new("hunter2-token".into());
        assert!(!format!("{s:?} {s} {:?}", Some(&s)).contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-token");
    }

    #[test]
    fn a_secret_matches_itself_only() {
        let s = SecretString::new("hunter2-token".into());
        assert!(s.matches(b"hunter2-token"));
        assert!(!s.matches(b"hunter2-toke"));
        assert!(!s.matches(b""));
    }
}
