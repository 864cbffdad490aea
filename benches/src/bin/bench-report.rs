//! `bench-report`: reads the benchmarks' result files and writes BENCHMARKS.md's results table
//! (between its markers) and the chart.
//!
//!   cargo run -p darkroom-benches --bin bench-report -- [--results DIR] [--markdown FILE] [--svg FILE]
//!
//! Defaults: `<target>/bench-results`, `BENCHMARKS.md`, `benches/results/summary.svg`. The
//! result files are copied next to the chart so the numbers behind the table are kept.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use darkroom_benches::report;

fn main() -> anyhow::Result<()> {
    let mut results_dir = darkroom_benches::target_dir().join("bench-results");
    let mut markdown = PathBuf::from("BENCHMARKS.md");
    let mut svg = PathBuf::from("benches/results/summary.svg");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--results" => results_dir = value.into(),
            "--markdown" => markdown = value.into(),
            "--svg" => svg = value.into(),
            other => bail!("unknown option '{other}'; use --results DIR, --markdown FILE or --svg FILE"),
        }
    }
    let mut results = BTreeMap::new();
    let keep = svg.parent().map(PathBuf::from).unwrap_or_default();
    std::fs::create_dir_all(&keep).with_context(|| format!("cannot create {}", keep.display()))?;
    for entry in std::fs::read_dir(&results_dir)
        .with_context(|| format!("no results in {}: run scripts/bench.sh first", results_dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path)?;
            let value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
            let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            std::fs::write(keep.join(path.file_name().unwrap_or_default()), text)?;
            results.insert(name, value);
        }
    }
    let rows = report::rows(&results);
    if rows.is_empty() {
        bail!("no benchmark results in {}", results_dir.display());
    }
    let table = report::markdown(&rows);
    print!("{table}");
    std::fs::write(&svg, report::svg(&rows)).with_context(|| format!("cannot write {}", svg.display()))?;
    let doc = std::fs::read_to_string(&markdown).with_context(|| format!("cannot read {}", markdown.display()))?;
    let updated = report::splice(&doc, &table).with_context(|| {
        format!("{} has no <!-- results:start --> / <!-- results:end --> markers", markdown.display())
    })?;
    std::fs::write(&markdown, updated)?;
    eprintln!("wrote the table into {} and the chart to {}", markdown.display(), svg.display());
    Ok(())
}
