use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use sleuth_render::text::visible;

use super::rule_source::RuleSource;

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
