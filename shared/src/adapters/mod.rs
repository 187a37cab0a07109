//! Implementations of the ports against real backends.

pub mod aws;
pub mod clock;
pub mod crypto_com;
pub mod dynamodb;
#[cfg(feature = "echo-exchange")]
pub mod echo;
pub mod exchange;
pub mod http;
pub mod paper;
pub mod rate;
pub mod replay;
pub mod secrets;
pub mod sqs;
pub mod telegram;
