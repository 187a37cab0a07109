//! Secrets Manager adapter. Secret values are held in [`SecretString`], which never prints its content.

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_secretsmanager::Client;

use crate::ports::BoxError;

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

/// Why a secret could not be used. The secret's id and the field are named; a value never is.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {secret_id}: GetSecretValue failed")]
    Read {
        secret_id: String,
        #[source]
        source: BoxError,
    },
    #[error("secret {secret_id} has no string value")]
    NoString { secret_id: String },
    #[error("secret {secret_id} is not a JSON object of strings")]
    NotJsonObject { secret_id: String },
    #[error("secret {secret_id} field {field} is not a string")]
    FieldNotString { secret_id: String, field: String },
    #[error("secret {secret_id} lacks {field}")]
    MissingField { secret_id: String, field: String },
    #[error("secret {secret_id}: {field} is shorter than 16 characters")]
    KeyTooShort { secret_id: String, field: String },
    #[error(
        "secret {secret_id}: {field} is still the deploy-time placeholder {PLACEHOLDER} (or empty): put the real value \
         in with `aws secretsmanager put-secret-value --secret-id {secret_id} --secret-string '{{...}}'`"
    )]
    Placeholder { secret_id: String, field: String },
}

/// The value the template writes into a secret's fields at deploy time, for the operator to replace.
pub const PLACEHOLDER: &str = "REPLACE_ME";

/// [`take_field`] for a value that must have been set by the operator: the template's [`PLACEHOLDER`] or an empty
/// value is refused, naming the secret and the field.
pub fn set_field(
    fields: &mut BTreeMap<String, SecretString>,
    id: &str,
    name: &str,
) -> Result<SecretString, SecretError> {
    let value = take_field(fields, id, name)?;
    let v = value.expose().trim();
    if v.is_empty() || v.eq_ignore_ascii_case(PLACEHOLDER) {
        return Err(SecretError::Placeholder {
            secret_id: id.to_string(),
            field: name.to_string(),
        });
    }
    Ok(value)
}

/// Reads a JSON-object secret (`{"api_key": "...", ...}`) into named secret fields.
pub async fn json_secret(client: &Client, secret_id: &str) -> Result<BTreeMap<String, SecretString>, SecretError> {
    let resp = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| SecretError::Read {
            secret_id: secret_id.to_string(),
            // The SDK's words with their causes (`ResourceNotFoundException: …`), as one message.
            source: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string().into(),
        })?;
    let raw = resp.secret_string().ok_or_else(|| SecretError::NoString {
        secret_id: secret_id.to_string(),
    })?;
    let map: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(raw).map_err(|_| SecretError::NotJsonObject {
            secret_id: secret_id.to_string(),
        })?;
    map.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, SecretString::new(s))),
            _ => Err(SecretError::FieldNotString {
                secret_id: secret_id.to_string(),
                field: k,
            }),
        })
        .collect()
}

/// Takes field `name` of secret `id` (read with [`json_secret`]).
pub fn take_field(
    fields: &mut BTreeMap<String, SecretString>,
    id: &str,
    name: &str,
) -> Result<SecretString, SecretError> {
    fields.remove(name).ok_or_else(|| SecretError::MissingField {
        secret_id: id.to_string(),
        field: name.to_string(),
    })
}

/// [`take_field`] for a key callers must present: at least 16 characters.
pub fn key_field(
    fields: &mut BTreeMap<String, SecretString>,
    id: &str,
    name: &str,
) -> Result<SecretString, SecretError> {
    let value = take_field(fields, id, name)?;
    if value.expose().len() < 16 {
        return Err(SecretError::KeyTooShort {
            secret_id: id.to_string(),
            field: name.to_string(),
        });
    }
    Ok(value)
}

/// An exchange's API key and secret (the `{"api_key", "api_secret"}` secret). `Debug` shows neither.
#[derive(Clone)]
pub struct Credentials {
    pub api_key: SecretString,
    pub api_secret: SecretString,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(***)")
    }
}

impl Credentials {
    /// From the `{"api_key", "api_secret"}` secret.
    pub fn from_secret(
        mut fields: std::collections::BTreeMap<String, SecretString>,
        secret_id: &str,
    ) -> Result<Self, SecretError> {
        Ok(Self {
            api_key: set_field(&mut fields, secret_id, "api_key")?,
            api_secret: set_field(&mut fields, secret_id, "api_secret")?,
        })
    }
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

    #[test]
    fn a_missing_or_short_field_is_named_and_its_value_never_shown() {
        let mut fields = BTreeMap::from([("api_key".to_string(), SecretString::new("short-value".into()))]);
        let e = key_field(&mut fields.clone(), "s/id", "api_key")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "secret s/id: api_key is shorter than 16 characters");
        let e = take_field(&mut fields, "s/id", "chat_id").unwrap_err().to_string();
        assert_eq!(e, "secret s/id lacks chat_id");
    }
}
