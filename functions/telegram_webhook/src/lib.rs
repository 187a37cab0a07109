//! The Telegram webhook function: `handler` answers the bot's commands, `wiring` builds its adapters.

pub mod config;
pub mod handler;
pub mod wiring;
