//! Turns the benchmarks' result files into BENCHMARKS.md's table and a bar chart (SVG) of
//! each result against its target.
//!
//! The chart is a few dozen lines of SVG written by hand: plotting crates either need system
//! fonts to lay out text or bring a whole drawing stack for one bar chart.

use serde_json::Value;

/// One line of the results table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub what: String,
    pub measured: String,
    pub target: String,
    /// Measured over target, where lower is better and 1.0 is the target; `None` for lines
    /// that only inform.
    pub against_target: Option<f64>,
}

impl Row {
    pub fn met(&self) -> Option<bool> {
        self.against_target.map(|r| r <= 1.0)
    }
}

/// The number at `path` in `v`, if there is one.
pub fn num(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_f64()
}

/// A [`crate::pair_summary`] under `key`: its median, count, min and max.
fn paired(v: &Value, key: &str) -> Option<(f64, u64, f64, f64)> {
    let p = &v[key];
    Some((num(p, &["median"])?, p["n"].as_u64()?, num(p, &["min"])?, num(p, &["max"])?))
}

fn row(what: &str, measured: String, target: &str, against: Option<f64>) -> Row {
    Row { what: what.into(), measured, target: target.into(), against_target: against }
}

/// The table's rows from whichever results exist (`name` → the JSON a benchmark wrote).
pub fn rows(results: &std::collections::BTreeMap<String, Value>) -> Vec<Row> {
    let mut rows = Vec::new();
    if let Some(t) = results.get("cnn_training") {
        let cpu = &t["cpu"];
        let paired = &cpu["paired"];
        if let (Some(r), Some(nat), Some(con)) = (
            num(paired, &["ratio_wall", "median"]),
            num(cpu, &["native_wall", "median_ms"]),
            num(cpu, &["container_wall", "median_ms"]),
        ) {
            let lo = num(paired, &["ratio_wall", "min"]).unwrap_or(r);
            let hi = num(paired, &["ratio_wall", "max"]).unwrap_or(r);
            let n = num(paired, &["n"]).unwrap_or(0.0);
            rows.push(row(
                "CNN training, container / native, launch to exit (median of alternating pairs)",
                format!("{r:.3} (pairs {lo:.3}–{hi:.3}, n = {n})"),
                "≤ 1.02",
                Some(r / 1.02),
            ));
            rows.push(row(
                "CNN training, criterion's medians, container then native (sequential, drift included)",
                format!("{:.1} s vs {:.1} s", con / 1e3, nat / 1e3),
                "—",
                None,
            ));
        }
        if let Some(r) = num(paired, &["ratio_trained", "median"]) {
            rows.push(row(
                "CNN training, container / native, the trainer's own clock (alternating pairs)",
                format!("{r:.3}"),
                "—",
                None,
            ));
        }
        if let Some(reason) = t["gpu"]["skipped"].as_str() {
            rows.push(row("CNN training on a GPU", format!("skipped: {reason}"), "—", None));
        } else if let Some(r) = num(&t["gpu"], &["paired", "ratio_wall", "median"]) {
            rows.push(row("CNN training on a GPU, container / native", format!("{r:.3}"), "≤ 1.02", Some(r / 1.02)));
        }
    }
    if let Some(p) = results.get("platform") {
        let o = &p["overhead"];
        // The baseline is the engine's API under the sandbox's own options (see platform.rs).
        let s = &o["submit_to_running"];
        if let (Some(over), Some(d), Some(w)) =
            (num(s, &["overhead_ms"]), num(s, &["darkroom", "median_ms"]), num(s, &["raw_create_start", "median_ms"]))
        {
            // Alternating rounds where the results have them (a drift between criterion's
            // groups moves the difference of their medians); the groups' medians beside them.
            let (what, over, measured) = match paired(s, "paired_overhead_ms") {
                Some((median, n, min, max)) => (
                    "Submit → container running, over the sandbox's own create + start (alternating rounds)",
                    median,
                    format!(
                        "{median:+.1} ms (median of {n}, {min:+.0} to {max:+.0}; the groups' medians {d:.0} vs {w:.0} ms: {over:+.1})"
                    ),
                ),
                None => (
                    "Submit → container running, over the sandbox's own create + start (medians)",
                    over,
                    format!("{over:+.1} ms ({d:.0} ms vs {w:.0} ms)"),
                ),
            };
            rows.push(row(
                what,
                measured,
                "≤ +20 ms",
                // Bars cannot be negative; the text keeps the sign.
                Some((over / 20.0).max(0.0)),
            ));
            let legs: Vec<String> = [
                ("HTTP answer", "http_answer"),
                ("job on NATS", "answer_to_job_on_nats"),
                ("runner to engine create", "job_on_nats_to_engine_create"),
                ("create to start", "engine_create_to_start"),
            ]
            .iter()
            .filter_map(|(name, key)| num(s, &["legs", key, "median_ms"]).map(|m| format!("{name} {m:.0}")))
            .collect();
            rows.push(row("Submit → running, where it goes (medians, ms)", legs.join("; "), "—", None));
        }
        if let (Some(r), Some(d), Some(w)) = (
            num(o, &["exit_to_score", "ratio"]),
            num(o, &["exit_to_score", "darkroom", "median_ms"]),
            num(o, &["exit_to_score", "raw_evaluation_run", "median_ms"]),
        ) {
            let (r, measured) = match paired(&o["exit_to_score"], "paired_ratio") {
                Some((median, n, min, max)) => (
                    median,
                    format!(
                        "{median:.2}× (median of {n} alternating rounds, {min:.2}–{max:.2}; the groups' medians {d:.0} vs {w:.0} ms: {r:.2}×)"
                    ),
                ),
                None => (r, format!("{r:.2}× ({d:.0} ms vs {w:.0} ms)")),
            };
            rows.push(row(
                "Exit → score on the leaderboard, / the evaluator's sandboxed run",
                measured,
                "≤ 1.5×",
                Some(r / 1.5),
            ));
        }
        let b = &p["burst"];
        if let Some(over) = num(b, &["overhead_per_submission_ms"]) {
            let n = num(b, &["n"]).unwrap_or(0.0);
            rows.push(row(
                &format!("Burst of {n} no-op submissions: platform overhead per submission"),
                format!(
                    "{over:.1} ms ({:.1} s vs {:.1} s for the sandbox's own pipeline)",
                    num(b, &["makespan_ms"]).unwrap_or(0.0) / 1e3,
                    num(b, &["raw_pipeline_makespan_ms"]).unwrap_or(0.0) / 1e3
                ),
                "≤ 20 ms",
                Some((over / 20.0).max(0.0)),
            ));
            if let Some(r) = num(b, &["throughput_ratio"]) {
                rows.push(row(
                    "Burst: throughput, / the sandbox's own pipeline",
                    format!("{r:.3}{}", burst_rounds(b)),
                    "≥ 0.95",
                    Some(0.95 / r),
                ));
            }
            rows.push(row(
                "Burst: throughput; submit → COMPLETE p50 / p99",
                format!(
                    "{:.2} /s; {:.1} s / {:.1} s",
                    num(b, &["throughput_per_s"]).unwrap_or(0.0),
                    num(b, &["latency", "p50_ms"]).unwrap_or(0.0) / 1e3,
                    num(b, &["latency", "p99_ms"]).unwrap_or(0.0) / 1e3
                ),
                "—",
                None,
            ));
            rows.push(row(
                "Burst: COMPLETE / score documents / distinct scored / counted on the board",
                format!(
                    "{} / {} / {} / {}",
                    b["states"]["COMPLETE"].as_u64().unwrap_or(0),
                    b["score_documents"].as_u64().unwrap_or(0),
                    b["distinct_scored"].as_u64().unwrap_or(0),
                    b["leaderboard_count"].as_u64().unwrap_or(0)
                ),
                &format!("all {n}"),
                None,
            ));
            if let Some(extra) = burst_cpu(b) {
                rows.push(row("Burst: the platform's extra CPU per submission, by process (ms)", extra, "—", None));
            }
        }
    }
    if let Some(row) = results.get("platform-burst-split").and_then(|s| split_burst(&s["burst"])) {
        rows.push(row);
    }
    if let Some(l) = results.get("leaderboard") {
        let (s, p) = (num(l, &["scores"]).unwrap_or(0.0), num(l, &["participants"]).unwrap_or(0.0));
        if let (Some(p50), Some(p99)) = (num(l, &["api_cached", "p50_ms"]), num(l, &["api_cached", "p99_ms"])) {
            rows.push(row(
                &format!("Leaderboard API, {s} scores / {p} participants, top 1,000 lines: p50 / p99"),
                format!("{p50:.2} ms / {p99:.2} ms"),
                "p99 < 10 ms",
                Some(p99 / 10.0),
            ));
        }
        if let (Some(p50), Some(p99)) =
            (num(l, &["api_after_new_score", "p50_ms"]), num(l, &["api_after_new_score", "p99_ms"]))
        {
            // Issue 18: the kept board is brought up to date from the lines that changed.
            rows.push(row(
                "Leaderboard API, first request after a new score: p50 / p99",
                format!("{p50:.1} ms / {p99:.1} ms"),
                "p99 < 20 ms",
                Some(p99 / 20.0),
            ));
        }
    }
    if let Some(i) = results.get("image_load") {
        // Informational: issue 13 asks what the rebuild costs, not for a target.
        for (key, what) in [("plain", "plain layers"), ("gzip_layer", "gzip layer")] {
            let r = &i[key];
            if let (Some(over), Some(raw), Some(plat), Some(bytes)) = (
                num(r, &["overhead_s"]),
                num(r, &["pairs", "raw_docker_load", "median_ms"]),
                num(r, &["pairs", "rebuild_and_load", "median_ms"]),
                num(r, &["archive_bytes"]),
            ) {
                let mb = bytes / 1e6;
                rows.push(row(
                    &format!("Upload of {mb:.0} MB ({what}): rebuild + load over raw `docker load` (median of pairs)"),
                    format!(
                        "{over:+.2} s ({:.2} s, {:.0} MB/s vs {:.2} s, {:.0} MB/s)",
                        plat / 1e3,
                        mb / (plat / 1e3),
                        raw / 1e3,
                        mb / (raw / 1e3)
                    ),
                    "—",
                    None,
                ));
            }
        }
        // Informational: issue 19 asks what reaching a Swarm node costs.
        let r = &i["registry_round_trip"];
        if let (Some(push), Some(pull), Some(bytes)) =
            (num(r, &["push_s"]), num(r, &["pull_s"]), num(r, &["image_bytes"]))
        {
            rows.push(row(
                &format!("Image of {:.0} MB through a registry: push, then pull by digest", bytes / 1e6),
                format!("{:.1} s ({push:.1} s + {pull:.1} s)", push + pull),
                "—",
                None,
            ));
        }
    }
    if let Some(f) = results.get("footprint")
        && let Some(services) = f["services"].as_object()
    {
        // By name: whether serde_json keeps the file's order depends on the features
        // another crate in the build turns on.
        let mut services: Vec<_> = services.iter().collect();
        services.sort_by_key(|(name, _)| name.as_str());
        for (name, m) in services {
            if let Some(idle) = num(m, &["idle_mib"]) {
                rows.push(row(
                    &format!("Resident memory, {name}: idle (loaded peak)"),
                    format!("{idle:.1} MiB ({:.1} MiB)", num(m, &["loaded_peak_mib"]).unwrap_or(0.0)),
                    "idle < 30 MiB",
                    Some(idle / 30.0),
                ));
            }
        }
    }
    rows
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from("| What | Measured | Target | Met |\n|---|---|---|---|\n");
    for r in rows {
        let met = match r.met() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        out.push_str(&format!("| {} | {} | {} | {met} |\n", r.what, r.measured, r.target));
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A horizontal bar per targeted row, its length the result over its target (the dashed line
/// at 1 is the target; shorter is better), green where met, red where not.
pub fn svg(rows: &[Row]) -> String {
    let bars: Vec<&Row> = rows.iter().filter(|r| r.against_target.is_some()).collect();
    // Each row: its label on one line, its bar under it.
    let (left, width, bar_h, gap, top) = (20.0, 560.0, 12.0, 38.0, 50.0);
    let scale_max = bars.iter().filter_map(|r| r.against_target).fold(1.25_f64, f64::max).min(4.0);
    // A result below zero (the platform beat raw Docker) draws as the shortest bar.
    let x = |v: f64| left + width * (v.clamp(0.0, scale_max) / scale_max);
    let height = top + gap * bars.len() as f64 + 30.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Darkroom against its targets: bar = result ÷ target, left of the dashed line is met</text>\n"
    );
    for (i, r) in bars.iter().enumerate() {
        let v = r.against_target.unwrap_or(0.0);
        let y = top + gap * i as f64;
        let colour = if v <= 1.0 { "#2e8b57" } else { "#c0392b" };
        s.push_str(&format!(
            "<text x=\"{left}\" y=\"{y:.1}\" fill=\"#111\">{}: <tspan font-weight=\"bold\">{}</tspan> (target {})</text>\n\
             <rect x=\"{left}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar_h}\" fill=\"{colour}\" opacity=\"0.85\"/>\n",
            escape(&r.what),
            escape(&r.measured),
            escape(&r.target),
            y + 5.0,
            (x(v) - left).max(2.0),
        ));
    }
    let one = x(1.0);
    s.push_str(&format!(
        "<line x1=\"{one:.1}\" y1=\"{:.1}\" x2=\"{one:.1}\" y2=\"{:.1}\" stroke=\"#333\" stroke-dasharray=\"4 3\"/>\n\
         <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#333\">target</text>\n</svg>\n",
        top + 2.0,
        height - 20.0,
        one - 16.0,
        height - 6.0
    ));
    s
}

/// Replaces what lies between `<!-- results:start -->` and `<!-- results:end -->` in `doc`.
pub fn splice(doc: &str, table: &str) -> Option<String> {
    let (start, end) = ("<!-- results:start -->", "<!-- results:end -->");
    let a = doc.find(start)? + start.len();
    let b = doc[a..].find(end)? + a;
    Some(format!("{}\n{table}{}", &doc[..a], &doc[b..]))
}

/// Every round's ratio and overhead when the burst ran more than one (the row shows the
/// median round), e.g. " (median of 3 alternating rounds: 0.861 / 31.2 ms, …)".
fn burst_rounds(b: &Value) -> String {
    let rounds = b["rounds"].as_array().map(Vec::as_slice).unwrap_or_default();
    if rounds.len() < 2 {
        return String::new();
    }
    let each: Vec<String> = rounds
        .iter()
        .map(|r| {
            format!(
                "{:.3} / {:.1} ms",
                num(r, &["throughput_ratio"]).unwrap_or(0.0),
                num(r, &["overhead_per_submission_ms"]).unwrap_or(0.0)
            )
        })
        .collect();
    format!(" (median of {} alternating rounds: {})", rounds.len(), each.join(", "))
}

/// The burst with the engine on a core of its own (`DARKROOM_BENCH_SPLIT=1`, see
/// [`crate::split`]): informative, as the baseline there has one core, not the machine.
fn split_burst(b: &Value) -> Option<Row> {
    let (n, r) = (num(b, &["n"])?, num(b, &["throughput_ratio"])?);
    let engine_core = |side: &str| {
        let cores = b["cpu"][side]["core_utilisation"].as_array()?;
        Some(cores.last()?.as_f64()? * 100.0)
    };
    let busy = match (engine_core("darkroom"), engine_core("raw_pipeline")) {
        (Some(d), Some(raw)) => format!("; the engine's core {d:.0} % busy ({raw:.0} % raw)"),
        _ => String::new(),
    };
    Some(row(
        &format!(
            "Burst of {n}, the engine alone on one core and the platform on the other: throughput, / the sandbox's own pipeline on that core"
        ),
        format!("{r:.3}{}{busy}", burst_rounds(b)),
        "—",
        None,
    ))
}

/// The burst's CPU per submission that the platform added over the raw pipeline, by process,
/// largest first (processes that added under 0.5 ms are left out).
fn burst_cpu(b: &Value) -> Option<String> {
    let (d, r) = (&b["cpu"]["darkroom"], &b["cpu"]["raw_pipeline"]);
    let (total, raw) = (num(d, &["cpu_ms_per_unit"])?, num(r, &["cpu_ms_per_unit"])?);
    let mut by: Vec<(String, f64)> = d["cpu_ms_per_unit_by_process"]
        .as_object()?
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()? - num(r, &["cpu_ms_per_unit_by_process", k]).unwrap_or(0.0))))
        .filter(|(_, extra)| extra.abs() >= 0.5)
        .collect();
    by.sort_by(|a, b| b.1.total_cmp(&a.1));
    let parts: Vec<String> = by.iter().map(|(k, v)| format!("{k} {v:+.0}")).collect();
    let busy = |side: &Value| num(side, &["machine_utilisation"]).unwrap_or(0.0) * 100.0;
    Some(format!(
        "{:+.0} of {raw:.0} (machine {:.0} % busy{}): {}",
        total - raw,
        busy(d),
        if (busy(d) - busy(r)).abs() < 1.0 { " on both sides".to_owned() } else { format!(", {:.0} % raw", busy(r)) },
        parts.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_compare_each_result_with_its_target() {
        let results = std::collections::BTreeMap::from([
            (
                "cnn_training".to_owned(),
                json!({ "cpu": { "native_wall": { "median_ms": 30000.0, "n": 10 }, "container_wall": { "median_ms": 30300.0 },
                              "paired": { "n": 5, "ratio_wall": { "median": 1.01, "min": 1.0, "max": 1.02 },
                                          "ratio_trained": { "median": 1.0 } } },
                        "gpu": { "skipped": "no GPU" } }),
            ),
            (
                "leaderboard".to_owned(),
                json!({ "scores": 100000, "participants": 10000,
                "api_cached": { "p50_ms": 1.0, "p99_ms": 12.0 } }),
            ),
        ]);
        let rows = rows(&results);
        assert_eq!(rows[0].met(), Some(true));
        assert_eq!(rows[0].measured, "1.010 (pairs 1.000–1.020, n = 5)");
        assert_eq!(rows[1].measured, "30.3 s vs 30.0 s");
        assert_eq!(rows[3].measured, "skipped: no GPU");
        assert_eq!(rows[4].met(), Some(false), "12 ms misses a 10 ms target");
        let table = markdown(&rows);
        assert!(table.contains("| **no** |"));
        let chart = svg(&rows);
        assert_eq!(chart.matches("<rect x=").count(), 2, "one bar per targeted row");
        assert!(chart.contains("#c0392b") && chart.contains("#2e8b57"));
    }

    #[test]
    fn the_platform_is_held_to_the_sandboxs_own_calls() {
        let results = std::collections::BTreeMap::from([(
            "platform".to_owned(),
            json!({ "overhead": { "submit_to_running": {
                        "overhead_ms": 25.0, "darkroom": { "median_ms": 125.0 }, "raw_create_start": { "median_ms": 100.0 },
                        "legs": { "http_answer": { "median_ms": 9.0 }, "engine_create_to_start": { "median_ms": 90.0 } } } },
                    "burst": { "n": 10, "overhead_per_submission_ms": -3.0, "makespan_ms": 9000.0,
                               "raw_pipeline_makespan_ms": 9030.0, "throughput_ratio": 0.9 } }),
        )]);
        let rows = rows(&results);
        let find = |what: &str| rows.iter().find(|r| r.what.starts_with(what)).unwrap_or_else(|| panic!("{what}"));
        let submit = find("Submit → container running");
        assert_eq!((submit.measured.as_str(), submit.met()), ("+25.0 ms (125 ms vs 100 ms)", Some(false)));
        assert_eq!(find("Submit → running, where").measured, "HTTP answer 9; create to start 90");
        assert_eq!(find("Burst of 10").met(), Some(true), "a platform faster than its baseline meets it");

        // With alternating rounds, their median is the measurement and decides the target.
        let mut paired = results;
        let o = &mut paired.get_mut("platform").unwrap()["overhead"];
        o["submit_to_running"]["paired_overhead_ms"] = json!({ "n": 40, "median": 12.5, "min": -4.0, "max": 31.0 });
        o["exit_to_score"] = json!({ "ratio": 1.6, "darkroom": { "median_ms": 240.0 }, "raw_evaluation_run": { "median_ms": 150.0 },
                                     "paired_ratio": { "n": 40, "median": 1.45, "min": 1.2, "max": 1.9 } });
        let rows = super::rows(&paired);
        let find = |what: &str| rows.iter().find(|r| r.what.starts_with(what)).unwrap_or_else(|| panic!("{what}"));
        let submit = find("Submit → container running");
        assert_eq!(
            (submit.measured.as_str(), submit.met()),
            ("+12.5 ms (median of 40, -4 to +31; the groups' medians 125 vs 100 ms: +25.0)", Some(true))
        );
        let exit = find("Exit → score");
        assert_eq!(
            (exit.measured.as_str(), exit.met()),
            (
                "1.45× (median of 40 alternating rounds, 1.20–1.90; the groups' medians 240 vs 150 ms: 1.60×)",
                Some(true)
            )
        );
        assert_eq!(find("Burst: throughput").met(), Some(false), "0.9 misses 0.95");
    }

    #[test]
    fn a_burst_of_several_rounds_lists_each_beside_the_median() {
        let b = json!({ "rounds": [
            { "throughput_ratio": 0.9, "overhead_per_submission_ms": 12.5 },
            { "throughput_ratio": 0.85, "overhead_per_submission_ms": 20.0 },
        ] });
        assert_eq!(burst_rounds(&b), " (median of 2 alternating rounds: 0.900 / 12.5 ms, 0.850 / 20.0 ms)");
        assert_eq!(
            burst_rounds(&json!({ "rounds": [{ "throughput_ratio": 0.9 }] })),
            "",
            "one round says nothing more"
        );
        assert_eq!(burst_rounds(&json!({})), "", "results from before the rounds");
    }

    #[test]
    fn a_split_burst_informs_with_the_engines_core() {
        let split = json!({ "burst": { "n": 300, "throughput_ratio": 0.982,
            "cpu": { "darkroom": { "core_utilisation": [0.6, 0.99] }, "raw_pipeline": { "core_utilisation": [0.1, 0.98] } } } });
        let rows = rows(&std::collections::BTreeMap::from([("platform-burst-split".to_owned(), split)]));
        assert_eq!(rows.len(), 1);
        assert!(rows[0].what.starts_with("Burst of 300, the engine alone on one core"), "{}", rows[0].what);
        assert_eq!(rows[0].measured, "0.982; the engine's core 99 % busy (98 % raw)");
        assert_eq!(rows[0].met(), None, "no target: its baseline has one core");
    }

    #[test]
    fn the_bursts_extra_cpu_is_named_by_process_largest_first() {
        let side = |total: f64, mongo: f64, dockerd: f64| {
            json!({ "machine_utilisation": 0.9, "cpu_ms_per_unit": total,
                    "cpu_ms_per_unit_by_process": { "mongodb wire server": mongo, "dockerd": dockerd, "postgres": 0.0 } })
        };
        let b = json!({ "cpu": { "darkroom": side(450.0, 40.0, 80.0), "raw_pipeline": side(350.0, 0.0, 70.0) } });
        assert_eq!(
            burst_cpu(&b).unwrap(),
            "+100 of 350 (machine 90 % busy on both sides): mongodb wire server +40, dockerd +10"
        );
        assert_eq!(burst_cpu(&json!({})), None, "results from before the breakdown");
    }

    #[test]
    fn splice_replaces_only_between_the_markers() {
        let doc = "a\n<!-- results:start -->\nold\n<!-- results:end -->\nb\n";
        assert_eq!(splice(doc, "new\n").unwrap(), "a\n<!-- results:start -->\nnew\n<!-- results:end -->\nb\n");
        assert!(splice("no markers", "x").is_none());
    }
}
