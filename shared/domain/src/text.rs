//! Text helpers shared by the domain and the adapters.

/// The first `max_chars` characters of `s` (never cut inside a character).
pub fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// Text going into HTML: `&`, `<`, `>` and `"` as entities. The project's one escape rule: the Telegram messages
/// (HTML parse mode, which knows these four) use it, and the HTML pages' templates (`maud`) escape by the same rule
/// (a test in the diagnostics function compares the two).
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    let mut copied = 0;
    // By bytes: the four are ASCII, and no byte of a multi-byte character is.
    for (i, b) in s.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => continue,
        };
        out.push_str(&s[copied..i]);
        out.push_str(entity);
        copied = i + 1;
    }
    out.push_str(&s[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_html_characters_become_entities_and_nothing_else_changes() {
        assert_eq!(html_escape(r#"a&b<i>"q"'é"#), "a&amp;b&lt;i&gt;&quot;q&quot;'é");
        assert_eq!(truncate("héllo", 2), "hé");
    }
}
