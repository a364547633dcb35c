//! The rules a hunt runs: the built-in ones (`rules/*.toml`, compiled in), any from a user's
//! folder, and a configuration file that changes parameters or turns rules off without
//! touching the rules:
//!
//! ```toml
//! [rules.credential-stuffing]
//! min_failures = 8
//!
//! [rules.legacy-protocol-success]
//! enabled = false
//!
//! # Values of the `%name%` placeholders Sigma rules expand (`|expand`).
//! [sigma.placeholders]
//! TrustedIps = ["203.0.113.7", "198.51.100.0/24"]
//! ```
//!
//! A folder of rules may hold Sigma rules (`*.yml`, `*.yaml`) beside rule files; they are
//! compiled with the mapping of [`crate::sigma`], and those that do not compile are reported
//! with the reason, not run.

use std::collections::BTreeMap;
use std::path::Path;

use crate::rule::{Rule, RuleError, RuleSql, Value};
use crate::sigma::{self, Outcome, Placeholders};

/// The built-in rules, by file name.
const BUILTIN: &[(&str, &str)] = &[
    ("account-lockout.toml", include_str!("../rules/account-lockout.toml")),
    ("aitm-residential-replay.toml", include_str!("../rules/aitm-residential-replay.toml")),
    ("anonymous-infrastructure.toml", include_str!("../rules/anonymous-infrastructure.toml")),
    ("automation-user-agent.toml", include_str!("../rules/automation-user-agent.toml")),
    ("ca-block-burst.toml", include_str!("../rules/ca-block-burst.toml")),
    ("country-hopping.toml", include_str!("../rules/country-hopping.toml")),
    ("credential-stuffing.toml", include_str!("../rules/credential-stuffing.toml")),
    ("device-code-phishing.toml", include_str!("../rules/device-code-phishing.toml")),
    ("graph-token-many-networks.toml", include_str!("../rules/graph-token-many-networks.toml")),
    ("identity-protection-risk.toml", include_str!("../rules/identity-protection-risk.toml")),
    ("illicit-consent.toml", include_str!("../rules/illicit-consent.toml")),
    ("impossible-travel.toml", include_str!("../rules/impossible-travel.toml")),
    ("legacy-protocol-success.toml", include_str!("../rules/legacy-protocol-success.toml")),
    ("low-and-slow-spray.toml", include_str!("../rules/low-and-slow-spray.toml")),
    ("mail-from-flagged-address.toml", include_str!("../rules/mail-from-flagged-address.toml")),
    ("mailbox-rules.toml", include_str!("../rules/mailbox-rules.toml")),
    ("mfa-fatigue.toml", include_str!("../rules/mfa-fatigue.toml")),
    ("new-country.toml", include_str!("../rules/new-country.toml")),
    ("password-spray.toml", include_str!("../rules/password-spray.toml")),
    ("risky-countries.toml", include_str!("../rules/risky-countries.toml")),
    ("risky-sign-in.toml", include_str!("../rules/risky-sign-in.toml")),
    ("rogue-authenticator.toml", include_str!("../rules/rogue-authenticator.toml")),
    ("smart-lockout-surge.toml", include_str!("../rules/smart-lockout-surge.toml")),
    ("sensitive-change.toml", include_str!("../rules/sensitive-change.toml")),
    ("sspr-abuse.toml", include_str!("../rules/sspr-abuse.toml")),
    ("takeover-chain.toml", include_str!("../rules/takeover-chain.toml")),
    ("token-replay.toml", include_str!("../rules/token-replay.toml")),
    ("username-enumeration.toml", include_str!("../rules/username-enumeration.toml")),
    ("vscode-client-graph-token.toml", include_str!("../rules/vscode-client-graph-token.toml")),
    ("workload-identity-anomaly.toml", include_str!("../rules/workload-identity-anomaly.toml")),
];

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

#[derive(Debug, Clone, Default)]
struct Settings {
    disabled: bool,
    parameters: BTreeMap<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    rules: Vec<Rule>,
    settings: BTreeMap<String, Settings>,
}

impl Catalog {
    pub fn builtin() -> Catalog {
        let rules = BUILTIN
            .iter()
            .map(|(name, text)| Rule::parse(text, name).unwrap_or_else(|e| panic!("built-in rule: {e}")))
            .collect();
        Catalog::from_rules(rules).unwrap_or_else(|e| panic!("built-in rules: {e}"))
    }

    pub fn from_rules(mut rules: Vec<Rule>) -> Result<Catalog, CatalogError> {
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(pair) = rules.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(CatalogError::Invalid { origin: pair[0].id.clone(), message: "two rules have this id".into() });
        }
        Ok(Catalog { rules, settings: BTreeMap::new() })
    }

    /// Adds the rules of `dir` and its sub-folders (or of one file), in path order: `*.toml`
    /// rule files and Sigma rules (`*.yml`, `*.yaml`). A bad rule file or an id already
    /// present is an error, and leaves the catalog as it was; a Sigma rule that does not
    /// compile is not added, and its outcome (every Sigma document's, compiled or not, is
    /// returned) says why.
    pub fn add_dir(&mut self, dir: &Path, placeholders: &Placeholders) -> Result<Vec<Outcome>, CatalogError> {
        let io = |path: &Path, e: std::io::Error| CatalogError::Invalid {
            origin: path.display().to_string(),
            message: e.to_string(),
        };
        let paths = files_under(dir, &["toml", "yml", "yaml"]).map_err(|e| io(dir, e))?;
        // Into a copy: a bad file leaves the catalog as it was.
        let mut rules = self.rules.clone();
        let mut sigma_files = Vec::new();
        for path in paths {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            if path.extension().is_some_and(|e| e != "toml") {
                sigma_files.push((origin, text));
                continue;
            }
            let rule = Rule::parse(&text, &origin)?;
            if rules.iter().any(|r| r.id == rule.id) {
                return Err(CatalogError::Invalid {
                    origin,
                    message: format!("a rule with id {:?} exists already", rule.id),
                });
            }
            rules.push(rule);
        }
        let outcomes = Catalog::add_sigma(&mut rules, &sigma_files, placeholders);
        self.rules = Catalog::from_rules(rules)?.rules;
        Ok(outcomes)
    }

    /// Adds Sigma documents ((origin, YAML text) each); returns what became of each.
    pub fn add_sigma_files(&mut self, files: &[(String, String)], placeholders: &Placeholders) -> Vec<Outcome> {
        let mut rules = std::mem::take(&mut self.rules);
        let outcomes = Catalog::add_sigma(&mut rules, files, placeholders);
        self.rules = Catalog::from_rules(rules).expect("ids checked").rules;
        outcomes
    }

    fn add_sigma(rules: &mut Vec<Rule>, files: &[(String, String)], placeholders: &Placeholders) -> Vec<Outcome> {
        let mut outcomes = sigma::compile(files, sigma::Mapping::shipped(), placeholders);
        for outcome in &mut outcomes {
            let Ok(rule) = &outcome.result else { continue };
            if rules.iter().any(|r| r.id == rule.id) {
                let message = format!("a rule with id {:?} exists already", rule.id);
                outcome.result = Err(sigma::Unsupported::Invalid(message));
            } else if !outcome.only_correlated {
                rules.push(rule.clone());
            }
        }
        outcomes
    }

    /// The `[sigma.placeholders]` of a configuration file.
    pub fn placeholders(text: &str, origin: &str) -> Result<Placeholders, CatalogError> {
        #[derive(serde::Deserialize, Default)]
        struct Config {
            #[serde(default)]
            sigma: SigmaConfig,
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct SigmaConfig {
            #[serde(default)]
            placeholders: Placeholders,
        }
        let config: Config = toml::from_str(text)
            .map_err(|e| CatalogError::Invalid { origin: origin.to_string(), message: e.to_string() })?;
        Ok(config.sigma.placeholders)
    }

    /// Applies a configuration file (see the module documentation). Every named rule and
    /// parameter must exist, with a value of the parameter's kind.
    pub fn configure(&mut self, text: &str, origin: &str) -> Result<(), CatalogError> {
        let invalid = |message: String| CatalogError::Invalid { origin: origin.to_string(), message };
        let config: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if let Some(key) = config.keys().find(|k| *k != "rules" && *k != "sigma") {
            return Err(invalid(format!(
                "unknown section [{key}]; rule settings go under [rules.ID], placeholders under [sigma.placeholders]"
            )));
        }
        Catalog::placeholders(text, origin)?;
        let Some(rules) = config.get("rules") else { return Ok(()) };
        let rules = rules.as_table().ok_or_else(|| invalid("[rules] must hold one table per rule".into()))?;
        for (id, table) in rules {
            let rule = self.rule(id).ok_or_else(|| invalid(format!("no rule {id:?}")))?;
            let table = table.as_table().ok_or_else(|| invalid(format!("[rules.{id}] must be a table")))?;
            let mut settings = Settings::default();
            for (name, value) in table {
                if name == "enabled" {
                    settings.disabled =
                        !value.as_bool().ok_or_else(|| invalid(format!("rules.{id}.enabled is true or false")))?;
                    continue;
                }
                let value: Value = value
                    .clone()
                    .try_into()
                    .map_err(|e: toml::de::Error| invalid(format!("rules.{id}.{name}: {e}")))?;
                settings.parameters.insert(name.clone(), value);
            }
            rule.query_with(&settings.parameters).map_err(|e| invalid(e.to_string()))?;
            self.settings.insert(id.clone(), settings);
        }
        Ok(())
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    pub fn is_enabled(&self, id: &str) -> bool {
        !self.settings.get(id).is_some_and(|s| s.disabled)
    }

    /// The value a parameter will have: configured, else the default.
    pub fn parameter(&self, id: &str, name: &str) -> Option<&Value> {
        let configured = self.settings.get(id).and_then(|s| s.parameters.get(name));
        configured.or_else(|| self.rule(id)?.parameters.get(name).map(|p| &p.default))
    }

    /// The enabled rules with their queries, parameters filled in, in id order.
    pub fn enabled(&self) -> Vec<(&Rule, RuleSql)> {
        self.rules.iter().filter(|r| self.is_enabled(&r.id)).map(|r| (r, self.query_of(r))).collect()
    }

    /// A rule's query with its parameters filled in, as a hunt runs it.
    pub fn query(&self, id: &str) -> Option<RuleSql> {
        self.rule(id).map(|r| self.query_of(r))
    }

    fn query_of(&self, rule: &Rule) -> RuleSql {
        let empty = BTreeMap::new();
        let parameters = self.settings.get(&rule.id).map_or(&empty, |s| &s.parameters);
        rule.query_with(parameters).expect("checked when configured")
    }
}

/// The files under `dir` and its sub-folders with one of these extensions, in path order; a
/// file given as `dir` is taken whatever its extension.
pub fn files_under(dir: &Path, extensions: &[&str]) -> std::io::Result<Vec<std::path::PathBuf>> {
    if std::fs::metadata(dir)?.is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut paths = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| extensions.iter().any(|x| e == *x)) {
                paths.push(path);
            }
        }
    }
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Language;

    #[test]
    fn every_builtin_rule_parses_and_documents_itself() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.rules().len(), BUILTIN.len());
        for rule in catalog.rules() {
            assert!(!rule.description.trim().is_empty() && !rule.mitre.is_empty(), "{}", rule.id);
            assert!(!rule.false_positives.is_empty() && !rule.references.is_empty(), "{}", rule.id);
            for (name, p) in &rule.parameters {
                assert!(!p.description.is_empty(), "{}.{name}", rule.id);
            }
            let file = BUILTIN.iter().find(|(_, text)| text.contains(&format!("id = \"{}\"", rule.id))).unwrap().0;
            assert_eq!(file, format!("{}.toml", rule.id), "a rule's file is named by its id");
        }
    }

    /// What `sleuth rule ID --sql` prints must be one statement `sleuth sql` can run.
    #[test]
    fn every_builtin_sql_rule_folds_into_one_statement_that_parses() {
        let catalog = Catalog::builtin();
        for (rule, query) in catalog.enabled().into_iter().filter(|(r, _)| r.language == Language::Sql) {
            let sql = query.single_statement();
            let statements = datafusion::sql::parser::DFParser::parse_sql(&sql)
                .unwrap_or_else(|e| panic!("{}: {e}\n{sql}", rule.id));
            assert_eq!(statements.len(), 1, "{}", rule.id);
        }
    }

    #[test]
    fn configuration_changes_parameters_and_turns_rules_off() {
        let mut catalog = Catalog::builtin();
        let config = "[rules.credential-stuffing]\nmin_failures = 9\nfailure_codes = [50126, 50053]\n\n\
                      [rules.password-spray]\nenabled = false\n";
        catalog.configure(config, "sleuth.toml").unwrap();
        assert_eq!(catalog.parameter("credential-stuffing", "min_failures"), Some(&Value::Integer(9)));
        assert!(!catalog.is_enabled("password-spray"));
        let enabled: Vec<&str> = catalog.enabled().iter().map(|(r, _)| r.id.as_str()).collect();
        assert!(!enabled.contains(&"password-spray") && enabled.contains(&"credential-stuffing"));
        let (_, query) = catalog.enabled().into_iter().find(|(r, _)| r.id == "credential-stuffing").unwrap();
        assert!(query.single_statement().contains(">= 9"), "{query:?}");
        assert!(query.single_statement().contains("result_type IN (50126, 50053)"), "{query:?}");

        for (bad, message) in [
            ("[rules.nope]\nx = 1\n", "no rule \"nope\""),
            ("[rules.credential-stuffing]\nmin_failures = \"many\"\n", "takes a value like"),
            ("[rules.credential-stuffing]\nfailure_codes = [\"50126\"]\n", "takes a value like 50126, 50053"),
            ("[rules.credential-stuffing]\nenabled = \"no\"\n", "true or false"),
            ("[thresholds]\nx = 1\n", "unknown section [thresholds]"),
        ] {
            let err = Catalog::builtin().configure(bad, "sleuth.toml").unwrap_err().to_string();
            assert!(err.starts_with("sleuth.toml: ") && err.contains(message), "{err}");
        }
    }

    #[test]
    fn a_bad_rule_folder_leaves_the_catalog_as_it_was() {
        let dir = std::env::temp_dir().join(format!("sleuth-bad-rules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("broken.toml"), "id = \"x\"\n").unwrap();
        let mut catalog = Catalog::builtin();
        let err = catalog.add_dir(&dir, &Placeholders::new()).unwrap_err().to_string();
        assert!(err.contains("broken.toml"), "{err}");
        assert_eq!(catalog.rules().len(), BUILTIN.len());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
