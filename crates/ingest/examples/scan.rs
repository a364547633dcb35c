//! Prints what ingest makes of the files given: `cargo run -p sleuth-ingest --example scan -- PATH...`
fn main() {
    let paths: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    for file in sleuth_ingest::files(&paths).expect("paths") {
        let mut first = None;
        for report in sleuth_ingest::read_path(&file, &Default::default(), &mut |r| {
            first.get_or_insert(r);
        }) {
            println!(
                "{} {:?} {:?} records={:?} invalid={} unrecognised={} error={:?}",
                report.name,
                report.status(),
                report.encoding,
                report.records,
                report.invalid,
                report.unrecognised,
                report.error
            );
            for p in &report.problems {
                println!("   {}: {}", p.position, p.reason);
            }
        }
        if let Some(r) = first {
            let mut s = format!("{r:?}");
            s.truncate(1500);
            println!("   first: {s}");
        }
    }
}
