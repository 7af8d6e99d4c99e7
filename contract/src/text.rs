//! Sanitizing untrusted text before it can reach the terminal.
//!
//! Everything a site or a log pusher controls (names, ids, titles, values,
//! descriptions) goes through here at the source boundary, so the model only
//! ever holds text that is safe to draw.

/// Longest text kept from one field. Drupal's descriptions are a few hundred
/// characters; anything near a megabyte is an attack or a bug, and keeping it
/// would make every redraw slow.
pub const MAX_FIELD_CHARS: usize = 4096;
/// Names and ids are one line in a grid cell; they never need to be long.
pub const MAX_NAME_CHARS: usize = 200;

/// A single line: every control character, including newlines and tabs,
/// becomes a space; invisible and direction-changing characters go.
pub fn clean_line(raw: &str, max_chars: usize) -> String {
    clean(raw, max_chars, false)
}

/// JSON that stays inert when printed to a terminal: serde_json escapes
/// C0 controls but passes DEL, C1 controls (U+009B is a CSI on some
/// terminals) and bidi overrides through, and identities (a site's or a
/// requirement's label) are carried exactly as the backend has them.
pub fn terminal_safe_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        let unsafe_char = c == '\u{7f}'
            || ('\u{80}'..='\u{9f}').contains(&c)
            || matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
        if unsafe_char {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A label value (a site's or requirement's identity) as it may be drawn.
pub fn shown(label: &str) -> String {
    clean_line(label, MAX_NAME_CHARS)
}

/// Multi-line text: keeps `\n`, drops the rest like `clean_line`.
pub fn clean_multiline(raw: &str, max_chars: usize) -> String {
    clean(raw, max_chars, true)
}

/// Bytes that may not be UTF-8 (a hostile Loki line) become text first.
pub fn clean_bytes_line(raw: &[u8], max_chars: usize) -> String {
    clean_line(&String::from_utf8_lossy(raw), max_chars)
}

fn clean(raw: &str, max_chars: usize, keep_newlines: bool) -> String {
    // Most text is plain and short: copy it without looking at each char.
    if raw.len() <= max_chars && raw.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len().min(max_chars));
    let mut kept = 0usize;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if kept >= max_chars {
            out.push('…');
            break;
        }
        let replacement = match c {
            '\n' if keep_newlines => Some('\n'),
            '\r' if keep_newlines && chars.peek() == Some(&'\n') => None,
            '\t' | '\n' | '\r' => Some(' '),
            c if is_invisible_or_bidi(c) => None,
            c if c.is_control() => Some('\u{FFFD}'),
            c => Some(c),
        };
        if let Some(r) = replacement {
            out.push(r);
            kept += 1;
        }
    }
    out
}

/// Characters that change how surrounding text is displayed without being
/// visible themselves: bidi overrides and isolates (which can make
/// `evil` read as `live`), zero-width joiners and friends.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_cannot_reach_the_terminal() {
        let hostile = "site\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J\u{9b}31m";
        let clean = clean_line(hostile, MAX_NAME_CHARS);
        assert!(!clean.chars().any(|c| c.is_control()), "{clean:?}");
        assert!(clean.starts_with("site"));
    }

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_removed() {
        let clean = clean_line("ab\u{202E}cd\u{2066}e\u{200B}f\u{FEFF}", 100);
        assert_eq!(clean, "abcdef");
    }

    #[test]
    fn newlines_survive_only_in_multiline_text() {
        assert_eq!(clean_line("a\nb\tc\r\n", 100), "a b c  ");
        assert_eq!(clean_multiline("a \nb\r\nc\n", 100), "a \nb\nc\n");
    }

    #[test]
    fn megabyte_strings_are_cut_with_a_visible_mark() {
        let long = "x".repeat(1 << 20);
        let clean = clean_line(&long, MAX_FIELD_CHARS);
        assert_eq!(clean.chars().count(), MAX_FIELD_CHARS + 1);
        assert!(clean.ends_with('…'));
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let clean = clean_bytes_line(b"bor\xffger\xc3", 100);
        assert_eq!(clean, "bor\u{FFFD}ger\u{FFFD}");
    }

    #[test]
    fn ordinary_danish_text_is_untouched() {
        let s = "Kørsel af cron: sidst kørt for 3 uger siden — æøå";
        assert_eq!(clean_line(s, 200), s);
    }
}
