//! Text from the network, bounded before it is stored, logged or served.

/// The longest error text from the network stored, logged or served (a seed's JSON-RPC error
/// message is its own text, of any length).
pub(crate) const MAX_ERROR_BYTES: usize = 1024;

/// What ends a text that was cut.
const CUT: &str = "… [cut]";

/// `text` as it is when it fits in `max` bytes; else its start, cut on a character boundary,
/// followed by `… [cut]`, the whole at most `max` bytes.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub(CUT.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{CUT}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_character_boundary_and_says_so() {
        assert_eq!(bounded("short", 1024), "short");
        let long = "é".repeat(2000);
        let cut = bounded(&long, 1024);
        assert!(cut.len() <= 1024, "{}", cut.len());
        assert!(cut.ends_with("… [cut]"));
        assert!(cut.starts_with("éé"));
        assert_eq!(bounded(&"x".repeat(1025), 1024).len(), 1024);
    }
}
