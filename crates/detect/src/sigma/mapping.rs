//! The mapping data file: which table of the store holds each Sigma log source, and what each
//! field name of the rules means there (see `sigma/mapping.toml` for the format).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Unsupported;

/// The mapping shipped with Sleuth.
pub const MAPPING: &str = include_str!("../../sigma/mapping.toml");

/// Log sources and field names mapped to the store's tables and columns.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub version: u32,
    pub sources: Vec<Source>,
}

/// One log source: the table that holds it and its field names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub product: String,
    pub service: String,
    pub table: String,
    /// The columns an alert reports as its user and address; a source without addresses
    /// (PIM alerts) names none.
    pub user: String,
    #[serde(default)]
    pub ip: Option<String>,
    /// Lower-cased field name, without a leading `properties.` → column, or `raw:Path` for a
    /// field of the original record that has no column.
    pub fields: BTreeMap<String, String>,
    /// Fields every record of the source has the same value of (`ActivityDetails: Sign-ins`).
    #[serde(default)]
    pub constants: BTreeMap<String, String>,
    /// Per field, rule values → the values the logs write (`Device Code` → `deviceCode`).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
}

/// What a field of a rule is in the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    Column(&'a str),
    /// A field of the original record, found in the `raw` JSON.
    Raw(&'a str),
    Constant(&'a str),
}

impl Mapping {
    /// The mapping Sleuth ships ([`MAPPING`]), parsed once.
    pub fn shipped() -> &'static Mapping {
        static SHIPPED: std::sync::LazyLock<Mapping> =
            std::sync::LazyLock::new(|| Mapping::parse(MAPPING).expect("the shipped mapping is valid"));
        &SHIPPED
    }

    pub fn parse(text: &str) -> Result<Mapping, String> {
        let mapping: Mapping = toml::from_str(text).map_err(|e| e.to_string())?;
        for source in &mapping.sources {
            let name = format!("{}/{}", source.product, source.service);
            let table = sleuth_ingest::Table::from_name(&source.table)
                .ok_or_else(|| format!("{name}: no table {:?}", source.table))?;
            let schema = sleuth_store::schema(table);
            let columns =
                source.fields.values().filter(|c| !c.starts_with("raw:")).chain([&source.user]).chain(&source.ip);
            if let Some(bad) = columns.into_iter().find(|c| schema.field_with_name(c).is_err()) {
                return Err(format!("{name}: table {} has no column {bad:?}", source.table));
            }
            let keys = source.fields.keys().chain(source.constants.keys()).chain(source.values.keys());
            if let Some(bad) = keys.into_iter().find(|k| **k != k.to_ascii_lowercase() || k.starts_with("properties."))
            {
                return Err(format!("{name}: field {bad:?} must be lower-case, without `properties.`"));
            }
        }
        Ok(mapping)
    }

    /// The source of a log source (product and service, case-insensitive).
    pub fn source(&self, product: Option<&str>, service: Option<&str>) -> Result<&Source, Unsupported> {
        let same = |a: &str, b: Option<&str>| b.is_some_and(|b| a.eq_ignore_ascii_case(b));
        self.sources
            .iter()
            .find(|s| same(&s.product, product) && same(&s.service, service))
            .ok_or_else(|| Unsupported::LogSource(format!("{}/{}", product.unwrap_or("-"), service.unwrap_or("-"))))
    }
}

impl Source {
    /// The address an alert reports: the `ip` column, or NULL.
    pub fn ip(&self) -> &str {
        self.ip.as_deref().unwrap_or("NULL")
    }

    /// A field of a rule, looked up lower-cased with a leading `properties.` removed.
    pub fn field(&self, name: &str) -> Result<Field<'_>, Unsupported> {
        let key = key(name);
        if let Some(column) = self.fields.get(&key) {
            return Ok(match column.strip_prefix("raw:") {
                Some(path) => Field::Raw(path),
                None => Field::Column(column),
            });
        }
        match self.constants.get(&key) {
            Some(value) => Ok(Field::Constant(value)),
            None => Err(Unsupported::Field(name.to_string())),
        }
    }

    /// The value the logs write for a rule's value of a field.
    pub fn value<'a>(&'a self, field: &str, value: &'a str) -> &'a str {
        let translations = self.values.get(&key(field));
        let found = translations.and_then(|t| t.iter().find(|(from, _)| from.eq_ignore_ascii_case(value)));
        found.map_or(value, |(_, to)| to.as_str())
    }
}

fn key(name: &str) -> String {
    let key = name.to_ascii_lowercase();
    key.strip_prefix("properties.").map(str::to_string).unwrap_or(key)
}

/// Values for the `%name%` placeholders of `expand`, from the user's configuration:
/// `[sigma.placeholders] UnApprovedIp = ["203.0.113.7"]`.
pub type Placeholders = BTreeMap<String, Vec<String>>;
