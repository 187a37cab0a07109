//! A Telegram webhook update and the command in it.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(update) = shared::commands::parse_update(data) {
        if let Some(text) = update.text {
            // With this bot's name configured and without (every addressed command is then another bot's).
            let _ = shared::commands::parse_command(&text, Some("SignalBot"));
            let _ = shared::commands::parse_command(&text, None);
        }
    }
});
