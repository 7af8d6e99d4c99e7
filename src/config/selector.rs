//! An environment's `selector`: PromQL label matchers without braces
//! (`env="prod", cluster=~"aks-.*"`), parsed once, when the configuration
//! is read, into typed matchers that the Prometheus and Loki queries render
//! back (`source::render_matcher`). Pure: no I/O, nothing outside `config`.
//!
//! The grammar is PromQL's (and LogQL's, which shares its lexer): a label
//! name, one of `=`, `!=`, `=~`, `!~`, and a value in `"…"` or `'…'` with
//! Go escapes, or in backticks taken raw; matchers separated by commas, one
//! trailing comma allowed. What Prometheus would refuse is refused here, so
//! a typo is a configuration error and not a failed query on every poll.

use serde::de::{self, Deserialize, Deserializer};

/// The parsed selector, and the text it was read from (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub matchers: Vec<Matcher>,
    pub text: String,
}

/// One label matcher of a configured selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    /// The value, unquoted and unescaped: what the label must (not) equal
    /// or the regex it must (not) match.
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    /// The operator as PromQL and LogQL write it.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Selector::parse(&text).map_err(de::Error::custom)
    }
}

impl Selector {
    /// Reads a matcher list, or says what is wrong with it (never echoing
    /// more than the part that failed).
    pub fn parse(text: &str) -> Result<Selector, String> {
        let text = text.trim();
        if text.starts_with('{') {
            return Err("write the matchers without braces: env=\"prod\"".into());
        }
        let mut matchers = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let (matcher, after) = parse_matcher(rest)?;
            matchers.push(matcher);
            rest = after.trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after.trim_start();
            } else if !rest.is_empty() {
                return Err(format!("expected ',' before {rest:?}"));
            }
        }
        Ok(Selector {
            matchers,
            text: text.to_string(),
        })
    }
}

/// One matcher at the start of `text`, and the text after it.
fn parse_matcher(text: &str) -> Result<(Matcher, &str), String> {
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let name = &text[..name_end];
    if !super::valid_name(name, false) {
        return Err(format!("expected a label name at {text:?}"));
    }
    let rest = text[name_end..].trim_start();
    // `=~` and `!~` before `=`, or `=~` would read as `=` and a value `~…`.
    let op = [
        MatchOp::Regex,
        MatchOp::NotRegex,
        MatchOp::NotEqual,
        MatchOp::Equal,
    ]
    .into_iter()
    .find(|op| rest.starts_with(op.as_str()))
    .ok_or_else(|| format!("expected =, !=, =~ or !~ after {name}"))?;
    let rest = rest[op.as_str().len()..].trim_start();
    let (value, rest) =
        parse_value(rest).map_err(|why| format!("the value after {name}{}: {why}", op.as_str()))?;
    Ok((
        Matcher {
            name: name.to_string(),
            op,
            value,
        },
        rest,
    ))
}

/// A quoted value at the start of `text`, unescaped, and the text after it.
fn parse_value(text: &str) -> Result<(String, &str), String> {
    let quote = text
        .chars()
        .next()
        .filter(|c| matches!(c, '"' | '\'' | '`'))
        .ok_or("expected a quoted value")?;
    let body = &text[1..];
    if quote == '`' {
        let end = body.find('`').ok_or("unterminated value")?;
        return Ok((body[..end].to_string(), &body[end + 1..]));
    }
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((at, c)) = chars.next() {
        if c == quote {
            return Ok((value, &body[at + 1..]));
        }
        if c != '\\' {
            value.push(c);
            continue;
        }
        let Some((_, escape)) = chars.next() else {
            break;
        };
        value.push(match escape {
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            '\\' => '\\',
            c if c == quote => c,
            'x' => escaped_char(&take(&mut chars, 2), 2, 16, 0x7f)?,
            'u' => escaped_char(&take(&mut chars, 4), 4, 16, u32::from(char::MAX))?,
            'U' => escaped_char(&take(&mut chars, 8), 8, 16, u32::from(char::MAX))?,
            '0'..='7' => {
                let digits = format!("{escape}{}", take(&mut chars, 2));
                escaped_char(&digits, 3, 8, 0x7f)?
            }
            other => {
                return Err(format!(
                    "unknown escape sequence \\{} (a regex's backslash is written \\\\)",
                    other.escape_debug()
                ));
            }
        });
    }
    Err("unterminated value".into())
}

/// The next `count` characters of the value, fewer where it ends.
fn take(chars: &mut std::str::CharIndices<'_>, count: usize) -> String {
    chars.by_ref().take(count).map(|(_, c)| c).collect()
}

/// The character that `count` digits in `radix` name. Escapes above `max`
/// are refused: `\x` and octal escapes above 0x7f are single bytes in Go,
/// which a label value (UTF-8) cannot hold alone.
fn escaped_char(digits: &str, count: usize, radix: u32, max: u32) -> Result<char, String> {
    let well_formed = digits.chars().count() == count && digits.chars().all(|c| c.is_digit(radix));
    well_formed
        .then(|| u32::from_str_radix(digits, radix).ok())
        .flatten()
        .filter(|code| *code <= max)
        .and_then(char::from_u32)
        .ok_or_else(|| {
            format!(
                "the escape of {:?} is not one a label value can hold; write the character itself",
                digits
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(name: &str, op: MatchOp, value: &str) -> Matcher {
        Matcher {
            name: name.into(),
            op,
            value: value.into(),
        }
    }

    fn matchers(text: &str) -> Vec<Matcher> {
        Selector::parse(text).unwrap().matchers
    }

    #[test]
    fn every_operator_and_quote_parses() {
        assert_eq!(
            matchers(r#"env="prod", cluster=~'aks-.*',team!="x \"y\"", a!~`b\c`,"#),
            vec![
                matcher("env", MatchOp::Equal, "prod"),
                matcher("cluster", MatchOp::Regex, "aks-.*"),
                matcher("team", MatchOp::NotEqual, "x \"y\""),
                matcher("a", MatchOp::NotRegex, "b\\c"),
            ]
        );
        assert_eq!(matchers(""), vec![]);
        assert_eq!(matchers("  "), vec![]);
        assert_eq!(
            Selector::parse(" env=\"prod\" ,").unwrap().text,
            "env=\"prod\" ,"
        );
    }

    #[test]
    fn go_escapes_are_read() {
        assert_eq!(
            matchers(r#"a="t\tn\n\\ \x41\u00e9\U0001F600\101", b='it\'s', c=~"a\\.b""#),
            vec![
                matcher("a", MatchOp::Equal, "t\tn\n\\ Aé😀A"),
                matcher("b", MatchOp::Equal, "it's"),
                matcher("c", MatchOp::Regex, "a\\.b"),
            ]
        );
    }

    #[test]
    fn what_prometheus_refuses_is_refused() {
        for bad in [
            "{env=\"prod\"}",
            "env=prod",
            "env==\"x\"",
            "env=\"x\" y=\"z\"",
            "1x=\"a\"",
            "env=\"x",
            "env=\"x\\",
            "a=`x",
            "c=~\"a\\.b\"",
            "a='x\\\"'",
            "a=\"\\xff\"",
            "a=\"\\x4\"",
            "a=\"\\ud800\"",
            ",",
            "env=\"a\",,",
        ] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
        let e = Selector::parse("c=~\"a\\.b\"").unwrap_err();
        assert!(e.contains("c=~") && e.contains("\\."), "{e}");
    }
}
