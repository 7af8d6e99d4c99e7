//! A series' labels, held compactly: the grid keeps one set per sample
//! for a whole poll, a million of them at 250,000 sites, and a `BTreeMap`
//! spends a 500-byte node on the two or three labels an aggregated series
//! carries. Pure data: serde reads it straight from a JSON object.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// Label names and values, sorted by name, each name once.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Labels(Vec<(Box<str>, Box<str>)>);

impl Labels {
    pub fn new() -> Labels {
        Labels(Vec::new())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).ok().map(|index| &*self.0[index].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Sets `name` to `value`; a name given again keeps the last value, as
    /// a JSON object read into a map would.
    pub fn insert(&mut self, name: impl Into<Box<str>>, value: impl Into<Box<str>>) {
        let name = name.into();
        let value = value.into();
        match self.position(&name) {
            Ok(index) => self.0[index].1 = value,
            Err(index) => self.0.insert(index, (name, value)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(name, value)| (&**name, &**value))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(held, _)| (**held).cmp(name))
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

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Labels, D::Error> {
        struct LabelsVisitor;

        impl<'de> Visitor<'de> for LabelsVisitor {
            type Value = Labels;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of label names and string values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
                // Sized to what is there: a vector grown by doubling
                // would keep unused room in every one of a million sets.
                let mut pairs: Vec<(Box<str>, Box<str>)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((name, value)) = map.next_entry::<Box<str>, Box<str>>()? {
                    pairs.push((name, value));
                }
                // Stable, so that of a name given twice the last stays
                // last, and dedup keeps the first: reverse first.
                pairs.reverse();
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                pairs.dedup_by(|later, earlier| later.0 == earlier.0);
                pairs.shrink_to_fit();
                Ok(Labels(pairs))
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
    fn anything_but_an_object_of_strings_is_refused() {
        assert!(serde_json::from_str::<Labels>(r#"["site"]"#).is_err());
        assert!(serde_json::from_str::<Labels>(r#"{"site":1}"#).is_err());
    }
}
