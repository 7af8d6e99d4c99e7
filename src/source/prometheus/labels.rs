//! A series' labels, held compactly: the grid keeps one set per sample
//! for a whole poll, a million of them at 250,000 sites. A `BTreeMap`
//! spends a 500-byte node on the two or three labels an aggregated series
//! carries, and even a vector of boxed pairs two allocations per label; one
//! text with every name and value and the ends of each take two per set.
//! Pure data: serde reads it straight from a JSON object.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// Label names and values, sorted by name, each name once.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Labels {
    /// Every name and value, one after the other, in order.
    text: Box<str>,
    /// Where each name and each value ends in `text`: name, value, name…
    ends: Box<[u32]>,
}

impl Labels {
    pub fn new() -> Labels {
        Labels::default()
    }

    /// From pairs sorted by name, each name once.
    fn from_sorted<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Labels {
        let (count, length) = pairs.clone().fold((0, 0), |(count, length), (n, v)| {
            (count + 1, length + n.len() + v.len())
        });
        let mut text = String::with_capacity(length);
        let mut ends = Vec::with_capacity(count * 2);
        for (name, value) in pairs {
            for part in [name, value] {
                text.push_str(part);
                // A label set past 4 GiB cannot come from a budgeted body.
                ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
            }
        }
        Labels {
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
        }
    }

    /// The `index`th name (even) or value (odd).
    fn part(&self, index: usize) -> &str {
        let from = if index == 0 {
            0
        } else {
            self.ends[index - 1] as usize
        };
        let to = self.ends[index] as usize;
        self.text.get(from..to).unwrap_or_default()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name)
            .ok()
            .map(|index| self.part(index * 2 + 1))
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Sets `name` to `value`; a name given again keeps the last value, as
    /// a JSON object read into a map would.
    pub fn insert(&mut self, name: impl Into<Box<str>>, value: impl Into<Box<str>>) {
        let (name, value) = (name.into(), value.into());
        let mut pairs: Vec<(&str, &str)> = self.iter().collect();
        match self.position(&name) {
            Ok(index) => pairs[index].1 = &value,
            Err(index) => pairs.insert(index, (&name, &value)),
        }
        *self = Labels::from_sorted(pairs.into_iter());
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone {
        (0..self.len()).map(|i| (self.part(i * 2), self.part(i * 2 + 1)))
    }

    pub fn len(&self) -> usize {
        self.ends.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = (low + high) / 2;
            match self.part(middle * 2).cmp(name) {
                std::cmp::Ordering::Equal => return Ok(middle),
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
            }
        }
        Err(low)
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<Box<str>>, V: Into<Box<str>>> FromIterator<(K, V)> for Labels {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Labels {
        let mut labels = Labels::new();
        for (name, value) in pairs {
            labels.insert(name, value);
        }
        labels
    }
}

impl<K: Into<Box<str>>, V: Into<Box<str>>, const N: usize> From<[(K, V); N]> for Labels {
    fn from(pairs: [(K, V); N]) -> Labels {
        pairs.into_iter().collect()
    }
}

/// Label sets up to this size are read without a buffer of their own:
/// an aggregated series carries two to five, an alert's ten or so.
const INLINE_LABELS: usize = 12;

impl Labels {
    /// From the pairs as a JSON object gave them: sorted by name, and of a
    /// name given twice the last kept, as a map would. Prometheus sends
    /// them sorted and once each, so that order is taken as it is.
    fn from_read(pairs: &mut [(Text<'_>, Text<'_>)]) -> Labels {
        let sorted_once = pairs.windows(2).all(|w| w[0].0.0 < w[1].0.0);
        if !sorted_once {
            // Stable, so that of a name given twice the last stays last,
            // and the first of a run is kept: reverse first.
            pairs.reverse();
            pairs.sort_by(|a, b| a.0.0.cmp(&b.0.0));
        }
        let kept = |i: usize| i == 0 || pairs[i - 1].0.0 != pairs[i].0.0;
        Labels::from_sorted(
            (0..pairs.len())
                .filter(|i| kept(*i))
                .map(|i| (&*pairs[i].0.0, &*pairs[i].1.0)),
        )
    }
}

/// A JSON string, borrowed from the body when it has no escapes: most
/// names and values are read without an allocation of their own.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'de>, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Labels, D::Error> {
        struct LabelsVisitor;

        impl<'de> Visitor<'de> for LabelsVisitor {
            type Value = Labels;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of label names and string values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
                // A poll reads a label set per sample, tens of thousands,
                // each of a few labels: they are gathered on the stack, and
                // only a set larger than that takes an allocation.
                let empty = || (Text(Cow::Borrowed("")), Text(Cow::Borrowed("")));
                let mut inline: [(Text<'de>, Text<'de>); INLINE_LABELS] =
                    std::array::from_fn(|_| empty());
                let mut spilled: Vec<(Text<'de>, Text<'de>)> = Vec::new();
                let mut count = 0;
                while let Some(pair) = map.next_entry::<Text<'de>, Text<'de>>()? {
                    if count < INLINE_LABELS {
                        inline[count] = pair;
                    } else {
                        if spilled.is_empty() {
                            spilled.reserve(map.size_hint().unwrap_or(0).min(64) + count + 1);
                            spilled
                                .extend(inline.iter_mut().map(|p| std::mem::replace(p, empty())));
                        }
                        spilled.push(pair);
                    }
                    count += 1;
                }
                let pairs = if spilled.is_empty() {
                    &mut inline[..count]
                } else {
                    &mut spilled[..]
                };
                Ok(Labels::from_read(pairs))
            }
        }

        deserializer.deserialize_map(LabelsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_from_json_are_found_by_name_and_the_last_of_a_repeat_wins() {
        let labels: Labels =
            serde_json::from_str(r#"{"site":"a","profile":"p","site":"b","env":"prod"}"#).unwrap();
        assert_eq!(labels.get("site"), Some("b"));
        assert_eq!(labels.get("profile"), Some("p"));
        assert_eq!(labels.get("missing"), None);
        assert_eq!(
            labels.iter().collect::<Vec<_>>(),
            [("env", "prod"), ("profile", "p"), ("site", "b")]
        );
    }

    #[test]
    fn insert_keeps_names_sorted_and_replaces_a_value() {
        let mut labels = Labels::from([("site", "a")]);
        labels.insert("env", "dev");
        labels.insert("site", "c");
        assert_eq!(labels, Labels::from([("env", "dev"), ("site", "c")]));
        assert_eq!(labels.len(), 2);
        assert!(labels.contains_key("env"));
    }

    #[test]
    fn escaped_and_plain_text_read_alike_from_a_body() {
        let labels: Labels =
            serde_json::from_slice(br#"{"site":"b\"or\u00e6g","z":"","a":"plain"}"#).unwrap();
        assert_eq!(labels.get("site"), Some("b\"or\u{e6}g"));
        assert_eq!(labels.get("z"), Some(""));
        assert_eq!(labels.get("a"), Some("plain"));
        assert_eq!(
            labels,
            Labels::from([("a", "plain"), ("site", "b\"or\u{e6}g"), ("z", "")])
        );
        assert!(Labels::new().is_empty());
        assert_eq!(Labels::new().get(""), None);
    }

    #[test]
    fn a_set_larger_than_the_stack_holds_reads_alike_and_the_last_repeat_wins() {
        let names: Vec<String> = (0..INLINE_LABELS + 5).map(|i| format!("l{i:02}")).collect();
        let mut body: Vec<String> = names
            .iter()
            .rev()
            .map(|n| format!("\"{n}\":\"{n}\""))
            .collect();
        body.push(r#""l03":"again""#.to_string());
        let labels: Labels = serde_json::from_str(&format!("{{{}}}", body.join(","))).unwrap();
        assert_eq!(labels.len(), names.len());
        assert_eq!(labels.get("l03"), Some("again"));
        assert_eq!(labels.get("l16"), Some("l16"));
        assert!(labels.iter().map(|(n, _)| n).is_sorted());
    }

    #[test]
    fn anything_but_an_object_of_strings_is_refused() {
        assert!(serde_json::from_str::<Labels>(r#"["site"]"#).is_err());
        assert!(serde_json::from_str::<Labels>(r#"{"site":1}"#).is_err());
    }
}
