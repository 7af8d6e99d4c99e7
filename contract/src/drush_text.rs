//! Drush's text made readable.
//!
//! Drush prints a requirement's value and description through Drupal's
//! `htmlToText`, which wraps lines for a mail client:
//!
//! - a soft line break (made by wrapping) is `" \n"`, a space before the
//!   newline: it is undone, the lines joined with one space;
//! - a hard line break (a `<br>`, a list item, a heading) is a `"\n"` without
//!   that space: it stays;
//! - a blank line separates paragraphs;
//! - a link is `text [n]`, with a footnote block of `[n] url` lines after a
//!   blank line at the end of the text: those lines are taken out of the body
//!   and returned as [`Readable::links`]; the `[n]` markers stay in the body.
//!
//! The input is expected to be sanitized already (a `Requirement`'s value
//! or description); this module only rearranges it.

/// A drush text, reflowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readable {
    /// Blocks separated by blank lines in the source. Soft breaks are joined;
    /// hard breaks stay as `\n` inside a paragraph. Trailing whitespace is
    /// trimmed from every line; leading whitespace (the indent of ` * `
    /// bullets) is kept.
    pub paragraphs: Vec<String>,
    /// The footnotes, `(n, url)`, in the order they appear.
    pub links: Vec<(u32, String)>,
}

impl Readable {
    pub fn is_empty(&self) -> bool {
        self.paragraphs.is_empty() && self.links.is_empty()
    }

    /// The target of footnote `[n]`.
    pub fn link(&self, n: u32) -> Option<&str> {
        self.links
            .iter()
            .find(|(m, _)| *m == n)
            .map(|(_, url)| url.as_str())
    }
}

/// Splits `text` into reflowed paragraphs and its footnote links.
///
/// The footnote block is recognised only at the very end of the text (after
/// trailing blank lines), only when every line of its last block is a
/// `[n] target` line, and only when it follows a blank line or is the whole
/// text; anything else stays in the body untouched.
pub fn readable(text: &str) -> Readable {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();

    let mut end = lines.len();
    while end > 0 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && footnote(lines[start - 1]).is_some() {
        start -= 1;
    }
    let mut links = Vec::new();
    let body_end = if start < end && (start == 0 || lines[start - 1].trim().is_empty()) {
        links.extend(lines[start..end].iter().filter_map(|l| footnote(l)));
        start
    } else {
        end
    };

    let mut paragraphs = Vec::new();
    let mut current = String::new();
    let mut soft = false;
    for line in &lines[..body_end] {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            soft = false;
            continue;
        }
        if current.is_empty() {
            current.push_str(line.trim_end());
        } else if soft {
            current.push(' ');
            current.push_str(line.trim());
        } else {
            current.push('\n');
            current.push_str(line.trim_end());
        }
        soft = line.ends_with(' ');
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    Readable { paragraphs, links }
}

/// `[n] target`.
fn footnote(line: &str) -> Option<(u32, String)> {
    let rest = line.trim().strip_prefix('[')?;
    let (n, target) = rest.split_once("] ")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let target = target.trim();
    if target.is_empty() {
        return None;
    }
    Some((n.parse().ok()?, target.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_breaks_join_and_footnotes_become_links() {
        let cron = "Cron has not run recently. For more information, see the online handbook \nentry for configuring cron jobs [1]. (more information [2])Run cron [3]\n\n[1] https://www.drupal.org/docs/administering-a-drupal-site/cron-automated-tasks/cron-automated-tasks-overview\n[2] https://default/admin/config/system/cron\n[3] https://default/admin/reports/status/run-cron?token=Zx9\n";
        let r = readable(cron);
        assert_eq!(
            r.paragraphs,
            [
                "Cron has not run recently. For more information, see the online handbook entry for configuring cron jobs [1]. (more information [2])Run cron [3]"
            ]
        );
        assert_eq!(r.links.len(), 3);
        assert_eq!(
            r.link(1),
            Some(
                "https://www.drupal.org/docs/administering-a-drupal-site/cron-automated-tasks/cron-automated-tasks-overview"
            )
        );
        assert_eq!(r.link(2), Some("https://default/admin/config/system/cron"));
        assert_eq!(
            r.link(3),
            Some("https://default/admin/reports/status/run-cron?token=Zx9")
        );
        assert_eq!(r.link(4), None);
    }

    #[test]
    fn value_with_one_footnote() {
        let r = readable(
            "Not secure! (version 10.3.7 available) [1]\n\n[1] https://default/admin/reports/updates\n",
        );
        assert_eq!(r.paragraphs, ["Not secure! (version 10.3.7 available) [1]"]);
        assert_eq!(
            r.links,
            [(1, "https://default/admin/reports/updates".to_string())]
        );
    }

    #[test]
    fn hard_breaks_and_bullets_stay_on_their_own_lines() {
        let r = readable(
            "The following changes were detected in the entity type and field definitions.\n.... Content\n\n * The /Teaser image/ field needs to be installed.\n\n",
        );
        assert_eq!(
            r.paragraphs,
            [
                "The following changes were detected in the entity type and field definitions.\n.... Content",
                " * The /Teaser image/ field needs to be installed."
            ]
        );
        assert!(r.links.is_empty());
    }

    #[test]
    fn wrapped_multi_line_descriptions_become_one_line() {
        let r = readable(
            "Your /sites/default/settings.php/ file must define the \n/$settings['config_sync_directory']/ setting as a string containing the \ndirectory in which configuration files can be found.\n",
        );
        assert_eq!(
            r.paragraphs,
            [
                "Your /sites/default/settings.php/ file must define the /$settings['config_sync_directory']/ setting as a string containing the directory in which configuration files can be found."
            ]
        );
        let r = readable("Cron har ikke k\u{f8}rt for nylig. \n");
        assert_eq!(r.paragraphs, ["Cron har ikke k\u{f8}rt for nylig."]);
    }

    #[test]
    fn empty_and_plain_texts() {
        assert!(readable("").is_empty());
        assert!(readable("\n\n").is_empty());
        let r = readable("Protected\n");
        assert_eq!(r.paragraphs, ["Protected"]);
        assert!(r.links.is_empty());
    }

    #[test]
    fn footnote_lines_that_are_not_a_final_block_stay_in_the_body() {
        // Not after a blank line.
        let r = readable("See\n[1] https://x\n");
        assert_eq!(r.paragraphs, ["See\n[1] https://x"]);
        assert!(r.links.is_empty());
        // Not at the end.
        let r = readable("[1] https://x\n\nmore\n");
        assert_eq!(r.paragraphs, ["[1] https://x", "more"]);
        // A mixed last block.
        let r = readable("a\n\n[1] https://x\nnot a footnote\n");
        assert_eq!(r.paragraphs, ["a", "[1] https://x\nnot a footnote"]);
        assert!(r.links.is_empty());
        // Only footnotes.
        let r = readable("[12] https://x\n");
        assert!(r.paragraphs.is_empty());
        assert_eq!(r.link(12), Some("https://x"));
    }

    #[test]
    fn odd_markers_are_not_footnotes() {
        for line in ["[] x", "[a] x", "[1]x", "[1] ", "[99999999999] x", "1] x"] {
            assert_eq!(footnote(line), None, "{line}");
        }
        assert_eq!(footnote("[7] u"), Some((7, "u".into())));
    }

    #[test]
    fn crlf_and_indented_continuations() {
        let r = readable(" * one long item that \r\n   wraps\r\n * two\r\n");
        assert_eq!(r.paragraphs, [" * one long item that wraps\n * two"]);
    }
}
