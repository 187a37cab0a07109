//! The Telegram webhook function: `handler` answers the bot's commands, `wiring` builds its adapters.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // production functions ≤ 60 lines (clippy.toml)

pub mod config;
pub mod handler;
pub mod wiring;
