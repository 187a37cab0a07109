//! Text helpers shared by the domain and the adapters.

/// The first `max_chars` characters of `s` (never cut inside a character).
pub fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}
