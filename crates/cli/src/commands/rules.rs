use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use sleuth_detect::{Catalog, Outcome, Placeholders};

use sleuth_render::text::visible;

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

/// The detection rules: list them (the default), show one, import and lint Sigma rules.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RulesCommand {
    #[command(subcommand)]
    action: Option<RulesAction>,
    #[command(flatten)]
    list: RulesArgs,
}

#[derive(Debug, Subcommand)]
enum RulesAction {
    List(RulesArgs),
    Show(RuleArgs),
    Import(super::sigma::ImportArgs),
    Lint(super::sigma::LintArgs),
}

pub fn run(command: RulesCommand) -> anyhow::Result<ExitCode> {
    match command.action {
        None => run_list(command.list),
        Some(RulesAction::List(args)) => run_list(args),
        Some(RulesAction::Show(args)) => run_show(args),
        Some(RulesAction::Import(args)) => super::sigma::run_import(args),
        Some(RulesAction::Lint(args)) => super::sigma::run_lint(args),
    }
}

/// How a list of outcomes is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
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
            visible(&rule.title)
        )?;
    }
    writeln!(out, "\n{} rules; `sleuth rules show ID` shows one in full.", catalog.rules().len())?;
    Ok(ExitCode::SUCCESS)
}

/// Show one detection rule in full: what it finds, its parameters (with the values a hunt
/// would use), false positives, references and its query.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// The rule's id (see `sleuth rules`; a Sigma rule's is its id, a UUID).
    id: String,
    /// Print only the query, parameters filled in as a hunt would run it (for a Sigma rule,
    /// the SQL it compiled to): ready for `sleuth sql`, to run the rule alone or to
    /// `EXPLAIN ANALYZE` it.
    #[arg(long, visible_alias = "compiled")]
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
    let safe = |s: &str| visible(s.trim());
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
    if let Some(origin) = &rule.sigma {
        writeln!(out, "Sigma {} from {}", origin.logsource, safe(&origin.file))?;
        let fields = [("id", &origin.sigma_id), ("author", &origin.author), ("status", &origin.status)];
        for (name, value) in fields {
            if let Some(value) = value {
                writeln!(out, "  {name}: {}", safe(value))?;
            }
        }
        if !origin.correlates.is_empty() {
            writeln!(out, "  correlates: {}", origin.correlates.join(", "))?;
        }
        writeln!(out)?;
    }
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
