//! The text sanitizer, whose output reaches the terminal: it never holds a
//! C0 or C1 control, ESC or a bidi override, and never runs past its cap
//! (plus the one ellipsis that marks a cut).
#![no_main]

use libfuzzer_sys::fuzz_target;
use site_status_contract::text::clean_line;

fn forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

fuzz_target!(|data: &[u8]| {
    let (cap, text) = match data.split_first() {
        Some((cap, rest)) => (usize::from(*cap), String::from_utf8_lossy(rest)),
        None => (0, String::from_utf8_lossy(data)),
    };
    let clean = clean_line(&text, cap);
    assert!(
        !clean.chars().any(forbidden),
        "{clean:?} from {text:?} holds a control or a direction override"
    );
    assert!(clean.chars().count() <= cap + 1, "{clean:?} is past its cap {cap}");
});
