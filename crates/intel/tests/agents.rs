//! Real user agents (tests/agents.tsv) get the class a SOC analyst gives them: browsers,
//! Microsoft's clients, scripting libraries, attack tools and the odd ones out. Each miss is
//! named; the list is exact, not a rate.

#[test]
fn real_agents_get_the_class_an_analyst_gives_them() {
    let list = include_str!("agents.tsv");
    let mut misses = Vec::new();
    let mut n = 0;
    for line in list.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (class, agent) = line.split_once('\t').expect("class<TAB>agent");
        n += 1;
        let got = sleuth_intel::classify_user_agent(agent);
        // The SQL function's shortcut gives the same class.
        assert_eq!(sleuth_intel::user_agent_class(agent), got.class, "{agent}");
        if got.class.name() != class {
            misses.push(format!("{agent}: {} (expected {class}; {:?})", got.class.name(), got.product));
        }
    }
    assert!(n >= 50, "the list has {n} agents");
    assert!(misses.is_empty(), "{} of {n} agents misclassed:\n{}", misses.len(), misses.join("\n"));
}

#[test]
fn browsers_and_systems_are_named_by_the_maintained_parsers() {
    let agent = sleuth_intel::classify_user_agent(
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    );
    assert_eq!(agent.product.as_deref(), Some("Samsung Internet"));
    assert_eq!(agent.version.as_deref(), Some("26.0"));
    assert_eq!(agent.os.as_deref(), Some("Android 14"));
    assert!(agent.evidence.unwrap().contains("uap-core"));
    // A script's agent keeps the curated entry as its evidence, and its system from uap-core.
    let cli = sleuth_intel::classify_user_agent("python/3.11.8 (Windows-10-10.0.22631-SP0) AZURECLI/2.61.0 (MSI)");
    assert_eq!(cli.product.as_deref(), Some("Azure CLI"));
    assert!(cli.evidence.unwrap().contains("Azure CLI"), "{:?}", cli.evidence);
}
