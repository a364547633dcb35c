//! A record's JSON as the normalisers read it: a tree that borrows its names and strings from
//! the record's text wherever the text holds them unescaped, with objects that find a name
//! through a hash index of their members.
//!
//! `serde_json::Value` with `preserve_order` (which the rest of the workspace relies on for the
//! order of its own output) allocates every name and string and hashes every name with SipHash,
//! on insertion and on every lookup; a Graph sign-in has some sixty names and the normalisers
//! look up some hundred and fifty, many of them spellings of other dialects that miss. Building
//! and dropping that tree was a third of ingest's time (docs/performance.md).
//!
//! The grammar, the limits (nesting depth) and the error messages are serde_json's: this type
//! only changes what is built. Objects keep their names in the order written, and a name
//! written twice keeps its first place and its last value, as `serde_json::Map` does, so that
//! what is written back out ([`Value`]'s `Display`: compact JSON) is what serde_json wrote.

use std::borrow::Cow;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::LazyLock;

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
pub use serde_json::Number;

/// A JSON value; strings and names borrow from the text they were read from when they can.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value<'a> {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    Object(Map<'a>),
}

/// Objects at most this long are searched name by name; longer ones through their index.
const LINEAR: usize = 8;

/// A JSON object: its members in the order written, and their positions by name's hash.
#[derive(Debug, Clone, Default)]
pub struct Map<'a> {
    entries: Vec<(Cow<'a, str>, Value<'a>)>,
    /// Positions in `entries`, found by the hash of their name ([`name_hash`]); empty for
    /// short objects.
    index: HashTable<u32>,
}

/// The hash of a member name. Seeded once per process, so that a record cannot be written to
/// make its names collide.
fn name_hash(name: &str) -> u64 {
    static STATE: LazyLock<RandomState> = LazyLock::new(RandomState::default);
    STATE.hash_one(name)
}

impl PartialEq for Map<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl<'a> Value<'a> {
    pub fn as_object(&self) -> Option<&Map<'a>> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value<'a>>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    /// A text value that owns its text, for when the source goes away.
    pub fn text(text: impl Into<String>) -> Value<'static> {
        Value::String(Cow::Owned(text.into()))
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Number(n) => Value::Number(n),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Array(items) => Value::Array(items.into_iter().map(Value::into_owned).collect()),
            Value::Object(map) => Value::Object(map.into_owned()),
        }
    }
}

impl From<Option<String>> for Value<'static> {
    fn from(text: Option<String>) -> Self {
        text.map_or(Value::Null, Value::text)
    }
}

impl<'a> Map<'a> {
    pub fn new() -> Self {
        Map::default()
    }

    /// An object of these members in this order; a name given twice keeps its first place
    /// and its last value.
    pub fn from_entries(entries: Vec<(Cow<'a, str>, Value<'a>)>) -> Self {
        let mut map = Map { entries, index: HashTable::new() };
        map.index();
        map
    }

    /// Indexes the members by name, and merges names written twice.
    fn index(&mut self) {
        self.index.clear();
        if self.entries.len() <= LINEAR {
            if has_duplicates_linear(&self.entries) {
                self.merge_duplicates_linear();
            }
            return;
        }
        let Map { entries, index } = self;
        index.reserve(entries.len(), |&i| name_hash(&entries[i as usize].0));
        // (first place, a later place) for every name written again.
        let mut repeats = Vec::new();
        for (i, (name, _)) in entries.iter().enumerate() {
            let found = index.entry(
                name_hash(name),
                |&j| entries[j as usize].0 == *name,
                |&j| name_hash(&entries[j as usize].0),
            );
            match found {
                Entry::Occupied(first) => repeats.push((*first.get() as usize, i)),
                Entry::Vacant(slot) => {
                    slot.insert(i as u32);
                }
            }
        }
        if !repeats.is_empty() {
            self.merge_duplicates(&repeats);
            self.index();
        }
    }

    /// A name written twice (or more) keeps its first place and gets its last value; the
    /// others go. In one pass over the repeats, in the order written: an object of a hundred
    /// thousand members, some repeated (a hostile record within the record limit), costs what
    /// indexing it does.
    fn merge_duplicates(&mut self, repeats: &[(usize, usize)]) {
        let mut gone = vec![false; self.entries.len()];
        for &(first, later) in repeats {
            self.entries[first].1 = std::mem::take(&mut self.entries[later].1);
            gone[later] = true;
        }
        let mut i = 0;
        self.entries.retain(|_| {
            i += 1;
            !gone[i - 1]
        });
    }

    /// The same for a short object, by comparing every pair.
    fn merge_duplicates_linear(&mut self) {
        let mut kept: Vec<(Cow<'a, str>, Value<'a>)> = Vec::with_capacity(self.entries.len());
        for (name, value) in std::mem::take(&mut self.entries) {
            match kept.iter_mut().find(|(k, _)| *k == name) {
                Some(slot) => slot.1 = value,
                None => kept.push((name, value)),
            }
        }
        self.entries = kept;
    }

    fn position(&self, name: &str) -> Option<usize> {
        if self.index.is_empty() {
            return self.entries.iter().position(|(k, _)| k == name);
        }
        self.index.find(name_hash(name), |&i| self.entries[i as usize].0 == name).map(|&i| i as usize)
    }

    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        self.position(name).map(|i| &self.entries[i].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Takes a member out (the others keep their order).
    pub fn remove(&mut self, name: &str) -> Option<Value<'a>> {
        let i = self.position(name)?;
        let (_, value) = self.entries.remove(i);
        self.index();
        Some(value)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The members in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_ref())
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value<'a>> {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    pub fn into_owned(self) -> Map<'static> {
        Map {
            entries: self.entries.into_iter().map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned())).collect(),
            index: self.index,
        }
    }
}

/// A member by name, or null when there is none (as `serde_json::Value` indexes).
impl<'a> std::ops::Index<&str> for Map<'a> {
    type Output = Value<'a>;
    fn index(&self, name: &str) -> &Value<'a> {
        self.get(name).unwrap_or(&Value::Null)
    }
}

impl<'a> std::ops::Index<&str> for Value<'a> {
    type Output = Value<'a>;
    fn index(&self, name: &str) -> &Value<'a> {
        self.as_object().and_then(|m| m.get(name)).unwrap_or(&Value::Null)
    }
}

fn has_duplicates_linear(entries: &[(Cow<'_, str>, Value<'_>)]) -> bool {
    entries.iter().enumerate().any(|(i, (k, _))| entries[..i].iter().any(|(j, _)| j == k))
}

/// Compact JSON, as serde_json writes it.
impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => serializer.collect_seq(items),
            Value::Object(map) => map.serialize(serializer),
        }
    }
}

impl Serialize for Map<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            out.serialize_entry(k.as_ref(), v)?;
        }
        out.end()
    }
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Map<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Object(map) => Ok(map),
            _ => Err(de::Error::custom("expected a JSON object")),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value<'de>, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value<'de>, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value<'de>, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(s.to_string())))
    }

    fn visit_string<E>(self, s: String) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(s)))
    }

    fn visit_none<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value<'de>, D::Error> {
        Value::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value<'de>, A::Error> {
        let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
        while let Some(Name(name)) = access.next_key()? {
            entries.push((name, access.next_value()?));
        }
        Ok(Value::Object(Map::from_entries(entries)))
    }
}

/// An object's member name, borrowed from the text when it holds no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s)))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// Parses JSON text into a value that borrows from it.
pub fn parse(text: &str) -> serde_json::Result<Value<'_>> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json's own `Value` (with `preserve_order`) makes of the same text.
    fn theirs(text: &str) -> String {
        serde_json::from_str::<serde_json::Value>(text).unwrap().to_string()
    }

    #[test]
    fn reads_and_writes_back_what_serde_json_does() {
        for text in [
            r#"{"b":1,"a":[true,null,-2,3.5e10,1.0,18446744073709551615],"c":{"x":"y\"z\u00e9\n"}}"#,
            r#"{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":{"deep":[[],{}]}}"#,
            r#"[1,"two",{"three":3}]"#,
            r#"{"twice":1,"other":2,"twice":3}"#,
            r#"{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"a":9}"#,
            r#""\ud83d\ude00 text""#,
        ] {
            assert_eq!(parse(text).unwrap().to_string(), theirs(text), "{text}");
        }
    }

    #[test]
    fn finds_names_in_short_and_long_objects_and_keeps_the_last_of_a_name_given_twice() {
        let long: String = (0..40).map(|i| format!("\"name{i}\":{i}")).collect::<Vec<_>>().join(",");
        let text = format!("{{{long},\"name7\":\"second\",\"name7\":\"last\"}}");
        let value = parse(&text).unwrap();
        let map = value.as_object().unwrap();
        assert_eq!(map.len(), 40);
        assert_eq!(map.get("name39"), Some(&Value::Number(39.into())));
        assert_eq!(map.get("name7").and_then(Value::as_str), Some("last"));
        assert_eq!(map.keys().nth(7), Some("name7"));
        assert!(map.get("name40").is_none() && map.get("").is_none() && map.get("Name7").is_none());
        assert_eq!(value.to_string(), theirs(&text));

        let short = parse(r#"{"b":1,"a":2}"#).unwrap();
        assert_eq!(short.as_object().unwrap().get("a"), Some(&Value::Number(2.into())));
    }

    #[test]
    fn a_huge_object_with_repeated_names_is_merged_in_one_pass() {
        // 200,000 members, each name written twice: the last value wins at the first place.
        let members: Vec<String> = (0..200_000).map(|i| format!("\"n{}\":{i}", i % 100_000)).collect();
        let text = format!("{{{}}}", members.join(","));
        let value = parse(&text).unwrap();
        let map = value.as_object().unwrap();
        assert_eq!(map.len(), 100_000);
        assert_eq!(map.get("n5"), Some(&Value::Number(100_005.into())));
        assert_eq!(map.keys().nth(5), Some("n5"));
        assert_eq!(value.to_string(), theirs(&text));
    }

    #[test]
    fn strings_without_escapes_are_borrowed_and_escaped_ones_decoded() {
        let value = parse(r#"{"plain":"abc","escaped":"a\tb"}"#).unwrap();
        let map = value.as_object().unwrap();
        assert!(matches!(map.get("plain"), Some(Value::String(Cow::Borrowed("abc")))));
        assert_eq!(map.get("escaped").and_then(Value::as_str), Some("a\tb"));
    }

    #[test]
    fn removing_keeps_the_order_and_the_index() {
        let text: String = format!("{{{}}}", (0..12).map(|i| format!("\"n{i}\":{i}")).collect::<Vec<_>>().join(","));
        let mut map = parse(&text).unwrap().as_object().unwrap().clone();
        assert_eq!(map.remove("n3"), Some(Value::Number(3.into())));
        assert!(map.get("n3").is_none() && map.get("n11").is_some());
        assert_eq!(map.keys().nth(3), Some("n4"));
    }

    #[test]
    fn serde_json_errors_and_depth_limit_still_apply() {
        assert!(parse(r#"{"a":}"#).unwrap_err().to_string().contains("expected value"));
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse(&deep).unwrap_err().to_string().contains("recursion limit"));
    }
}
