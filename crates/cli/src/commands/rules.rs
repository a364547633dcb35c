use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sleuth_detect::Catalog;

use crate::output::terminal_safe;

/// Where rules come from and how they are configured: shared by `hunt`, `rules` and `rule`.
#[derive(Debug, Args)]
pub struct RuleSource {
    /// A folder of extra rules (*.toml, one rule each; see `sleuth rule ID` for the format).
    #[arg(long = "rules", value_name = "DIR")]
    rule_dirs: Vec<PathBuf>,
    /// A configuration file changing rule parameters or turning rules off:
    /// [rules.credential-stuffing] min_failures = 8.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl RuleSource {
    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        let mut catalog = Catalog::builtin();
        for dir in &self.rule_dirs {
            catalog.add_dir(dir)?;
        }
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            catalog.configure(&text, &path.display().to_string())?;
        }
        Ok(catalog)
    }
}

/// List the detection rules: id, severity, MITRE techniques, title.
#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(flatten)]
    source: RuleSource,
}

pub fn run_list(args: RulesArgs) -> anyhow::Result<ExitCode> {
    let catalog = args.source.catalog()?;
    let mut out = std::io::stdout().lock();
    for rule in catalog.rules() {
        let state = if catalog.is_enabled(&rule.id) { "" } else { "  (disabled)" };
        writeln!(
            out,
            "{:<26} {:<9} {:<28} {}{state}",
            rule.id,
            rule.severity,
            rule.mitre.join(","),
            terminal_safe(&rule.title)
        )?;
    }
    writeln!(out, "\n{} rules; `sleuth rule ID` shows one in full.", catalog.rules().len())?;
    Ok(ExitCode::SUCCESS)
}

/// Show one detection rule in full: what it finds, its parameters (with the values a hunt
/// would use), false positives, references and its query.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// The rule's id (see `sleuth rules`).
    id: String,
    /// Print only the query, parameters filled in as a hunt would run it: ready for
    /// `sleuth sql` (to run the rule alone, or to `EXPLAIN ANALYZE` it).
    #[arg(long)]
    sql: bool,
    #[command(flatten)]
    source: RuleSource,
}

pub fn run_show(args: RuleArgs) -> anyhow::Result<ExitCode> {
    let catalog = args.source.catalog()?;
    let Some(rule) = catalog.rule(&args.id) else {
        let ids: Vec<&str> = catalog.rules().iter().map(|r| r.id.as_str()).collect();
        anyhow::bail!("no rule {:?}; the rules are {}", args.id, ids.join(", "));
    };
    let mut out = std::io::stdout().lock();
    if args.sql {
        writeln!(out, "{}", catalog.query(&rule.id).expect("the rule is in the catalog").single_statement())?;
        return Ok(ExitCode::SUCCESS);
    }
    let safe = |s: &str| terminal_safe(s.trim());
    writeln!(out, "{} — {}", rule.id, safe(&rule.title))?;
    let state = if catalog.is_enabled(&rule.id) { "enabled" } else { "disabled by the configuration" };
    writeln!(
        out,
        "severity {}, MITRE {}, {state}, grouped by {:?}\n",
        rule.severity,
        rule.mitre.join(", "),
        rule.group_by
    )?;
    writeln!(out, "{}\n", safe(&rule.description))?;
    if !rule.parameters.is_empty() {
        writeln!(out, "Parameters (override in a --config file under [rules.{}]):", rule.id)?;
        for (name, parameter) in &rule.parameters {
            let value = catalog.parameter(&rule.id, name).expect("a parameter of the rule");
            let note =
                if *value == parameter.default { String::new() } else { format!(" (default {})", parameter.default) };
            writeln!(out, "  {name} = {}{note}\n      {}", value.to_sql(), safe(&parameter.description))?;
        }
        writeln!(out)?;
    }
    writeln!(out, "Explanation of a hit: {}\n", safe(&rule.explain))?;
    for (title, items) in [("False positives", &rule.false_positives), ("References", &rule.references)] {
        writeln!(out, "{title}:")?;
        for item in items {
            writeln!(out, "  - {}", safe(item))?;
        }
        writeln!(out)?;
    }
    for table in &rule.tables {
        let how = if table.view { "a view, inlined where it is named" } else { "prepared once, before the query" };
        writeln!(out, "Table {} ({how}):\n{}\n", table.name, table.query.trim_end())?;
    }
    writeln!(out, "Query:\n{}", rule.query.trim_end())?;
    Ok(ExitCode::SUCCESS)
}
