//! Every secret this process holds, and the one place that takes them out
//! of text before it is printed, logged or drawn.
//!
//! Secrets are registered where they are read (a bearer token from a file
//! or a variable, a basic-auth password, a header value, a kubeconfig's
//! credentials). Every error type's `Display`, every response body and
//! every line a command prints passes through [`redact`], so a backend or
//! proxy that echoes the request back ("you sent: Bearer …") cannot make
//! the dashboard show a credential, whichever output it reaches.
//!
//! A secret is found as it is, percent-encoded (either hex case, `+` or
//! `%20` for a space), base64-encoded (standard or URL-safe, at any byte
//! offset of a longer encoded text) and split by white space or a line
//! break.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// What a secret becomes.
pub const REDACTED: &str = "[redacted]";

/// Shorter values are not searched for: they would redact ordinary words
/// (a header value `1`, a tenant `kk`). Such values are still never
/// printed by this program itself.
pub const MIN_SECRET_CHARS: usize = 6;

struct Registry {
    secrets: Vec<String>,
    /// Every form of every secret, white space removed.
    matcher: Option<Arc<AhoCorasick>>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry {
    secrets: Vec::new(),
    matcher: None,
});

/// Remembers `value` as a secret from now on. Surrounding white space is
/// not part of it (a token file ends in a newline).
pub fn register(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_SECRET_CHARS {
        return;
    }
    let Ok(mut registry) = REGISTRY.write() else {
        return;
    };
    if registry.secrets.iter().any(|s| s == value) {
        return;
    }
    registry.secrets.push(value.to_string());
    let mut patterns: Vec<String> = registry.secrets.iter().flat_map(|s| forms(s)).collect();
    patterns.sort();
    patterns.dedup();
    // Longest first, so a secret's base64 core is not cut short by a
    // shorter secret that happens to match inside it.
    registry.matcher = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&patterns)
        .ok()
        .map(Arc::new);
}

fn matcher() -> Option<Arc<AhoCorasick>> {
    REGISTRY.read().ok().and_then(|r| r.matcher.clone())
}

/// The forms a secret takes in text, each without white space (the text is
/// searched with its white space skipped).
fn forms(secret: &str) -> Vec<String> {
    let compact: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = vec![compact];
    let percent = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    out.push(percent.to_ascii_lowercase());
    out.push(percent.replace("%20", "+"));
    out.push(percent.to_ascii_lowercase().replace("%20", "+"));
    out.push(percent);
    let bytes = secret.as_bytes();
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        // Embedded at byte offset 0, 1 or 2 of a longer encoded text, the
        // secret's bytes encode differently; the characters that depend
        // only on the secret's own bytes are the same wherever it sits.
        for offset in 0..3usize {
            let mut padded = vec![0u8; offset];
            padded.extend_from_slice(bytes);
            let encoded = engine.encode(&padded);
            // Characters mixing in the padding at the start, or the bytes
            // after the secret at the end, are left out.
            let skip = if offset == 0 {
                0
            } else {
                (offset * 8).div_ceil(6)
            };
            let total_bits = padded.len() * 8;
            let keep_to = total_bits / 6;
            if keep_to > skip + 4 {
                out.push(encoded[skip..keep_to].to_string());
            }
        }
    }
    out.retain(|f| f.chars().count() >= MIN_SECRET_CHARS);
    out
}

/// `text` with every registered secret replaced by [`REDACTED`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let Some(matcher) = matcher() else {
        return Cow::Borrowed(text);
    };
    // Search the text with its white space removed, so that a secret split
    // across a line is found too, then map the match back.
    let mut compact = String::with_capacity(text.len());
    let mut origin: Vec<usize> = Vec::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        if !c.is_whitespace() {
            compact.push(c);
            origin.extend(std::iter::repeat_n(at, c.len_utf8()));
        }
    }
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for found in matcher.find_iter(&compact) {
        let start = origin[found.start()];
        let last = origin[found.end() - 1];
        let end = last + text[last..].chars().next().map_or(1, char::len_utf8);
        spans.push((start, end));
    }
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for (start, end) in spans {
        out.push_str(&text[from..start]);
        out.push_str(REDACTED);
        from = end;
    }
    out.push_str(&text[from..]);
    Cow::Owned(out)
}

/// `clean_line` for messages: secrets come out before the text is cut to
/// `max_chars`, so that a secret cut in two cannot survive as its first half.
pub fn clean_line(text: &str, max_chars: usize) -> String {
    crate::model::text::clean_line(&redact(text), max_chars)
}

/// A response body with every registered secret replaced, before any of it
/// is parsed: a label, an alert annotation or a report can echo one too.
/// Bodies are large, so only the exact forms are searched here (JSON
/// cannot carry a raw line break inside a string anyway).
pub fn redact_body(body: Vec<u8>) -> Vec<u8> {
    let Some(matcher) = matcher() else {
        return body;
    };
    if matcher.find(&body).is_none() {
        return body;
    }
    let mut out = Vec::with_capacity(body.len());
    matcher.replace_all_with_bytes(&body, &mut out, |_, _, dst| {
        dst.extend_from_slice(REDACTED.as_bytes());
        true
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    // The registry is process-wide: each test uses secrets of its own.

    #[test]
    fn a_secret_is_redacted_as_it_is_and_encoded() {
        let secret = "tok-3n/with+odd=chars xyz";
        register(secret);
        let cases = [
            format!("you sent: Bearer {secret}"),
            format!("q={}", utf8_percent_encode(secret, NON_ALPHANUMERIC)),
            format!(
                "q={}",
                utf8_percent_encode(secret, NON_ALPHANUMERIC)
                    .to_string()
                    .to_ascii_lowercase()
            ),
            format!("auth {}", STANDARD.encode(format!("Bearer {secret}"))),
            format!("auth {}", URL_SAFE.encode(format!("x:{secret}"))),
            format!("auth {}", STANDARD.encode(format!("ab{secret}cd"))),
            format!("split {}\n{}", &secret[..8], &secret[8..]),
            format!("split {} \r\n  {}", &secret[..3], &secret[3..]),
        ];
        for case in cases {
            let out = redact(&case);
            assert!(out.contains(REDACTED), "{case:?} became {out:?}");
            assert!(!out.contains("3n/with"), "{case:?} became {out:?}");
            for part in ["n/with+odd", "d2l0aCtvZGQ", "with%2Bodd"] {
                assert!(!out.contains(part), "{case:?} became {out:?}");
            }
        }
    }

    #[test]
    fn text_around_a_secret_is_kept() {
        register("p4ssw0rd-kept-test");
        assert_eq!(
            redact("before p4ssw0rd-kept-test after ü"),
            format!("before {REDACTED} after ü")
        );
        assert_eq!(redact("nothing here, ü"), "nothing here, ü");
    }

    #[test]
    fn short_values_are_not_secrets_to_search_for() {
        register("kk");
        assert_eq!(redact("kk-prod and kk"), "kk-prod and kk");
    }

    #[test]
    fn bodies_are_redacted_before_they_are_parsed() {
        register("body-secret-123456");
        let body = br#"{"site":"body-secret-123456","x":1}"#.to_vec();
        assert_eq!(
            redact_body(body),
            format!(r#"{{"site":"{REDACTED}","x":1}}"#).into_bytes()
        );
    }
}
