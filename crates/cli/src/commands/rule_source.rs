//! Where detection rules come from (`--rules`, `--config`) and how lists of them are written:
//! shared by `hunt`, `rules` and the Sigma commands, so that each depends on this file and
//! none on another.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use sleuth_detect::{Catalog, Outcome, Placeholders};

/// Where rules come from and how they are configured: shared by `hunt` and `rules`.
#[derive(Debug, Args)]
pub struct RuleSource {
    /// Extra rules: a folder, sub-folders included, of rule files (*.toml, one rule each; see
    /// `sleuth rules show ID` for the format) and Sigma rules (*.yml, *.yaml), or one such file.
    #[arg(long = "rules", value_name = "DIR|FILE")]
    rule_dirs: Vec<PathBuf>,
    /// A configuration file changing rule parameters or turning rules off
    /// ([rules.credential-stuffing] min_failures = 8), and giving Sigma placeholders their
    /// values ([sigma.placeholders] TrustedIps = ["203.0.113.7"]).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl RuleSource {
    /// The catalog, what became of the Sigma rules of the folders, and the placeholders'
    /// values (for more Sigma rules).
    pub fn load(&self) -> anyhow::Result<(Catalog, Vec<Outcome>, Placeholders)> {
        let config = self.read_config()?;
        let placeholders = placeholders_of(config.as_ref())?;
        let mut catalog = Catalog::builtin();
        let mut outcomes = Vec::new();
        for dir in &self.rule_dirs {
            outcomes.extend(catalog.add_dir(dir, &placeholders)?);
        }
        if let Some((text, origin)) = &config {
            catalog.configure(text, origin)?;
        }
        Ok((catalog, outcomes, placeholders))
    }

    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        Ok(self.load()?.0)
    }

    /// The configuration file's text and name.
    fn read_config(&self) -> anyhow::Result<Option<(String, String)>> {
        let Some(path) = &self.config else { return Ok(None) };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Some((text, path.display().to_string())))
    }
}

fn placeholders_of(config: Option<&(String, String)>) -> anyhow::Result<Placeholders> {
    Ok(match config {
        Some((text, origin)) => Catalog::placeholders(text, origin)?,
        None => Placeholders::new(),
    })
}

/// How a list of outcomes is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}
