//! Human-readable renderings of the API's answers.

use std::fmt::Write;

use serde_json::Value;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

pub fn challenge_saved(v: &Value) -> String {
    format!("challenge '{}' saved: {}\n", s(&v["slug"]), s(&v["title"]))
}

pub fn challenges(v: &Value) -> String {
    let mut out = format!("{:<24} {:<9} {:<12} TITLE\n", "SLUG", "STATUS", "PHASE");
    for c in v.as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "{:<24} {:<9} {:<12} {}",
            s(&c["slug"]),
            s(&c["status"]),
            s(&c["current_phase"]),
            s(&c["title"])
        );
    }
    out
}

pub fn challenge(v: &Value) -> String {
    let mut out = format!(
        "{} ({}) — {}\n\n{}\n\nDataset: {}\nPhases:\n",
        s(&v["title"]),
        s(&v["slug"]),
        s(&v["status"]),
        s(&v["description"]),
        s(&v["dataset_description"])
    );
    for p in v["phases"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "  {:<12} {} → {}", s(&p["name"]), s(&p["starts_at"]), s(&p["ends_at"]));
    }
    let _ = writeln!(out, "Ranked by: {}", s(&v["rank_by"]));
    out
}

pub fn dataset(v: &Value) -> String {
    let mut out = String::new();
    for f in v["files"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "{:>12}  {}", f["size_bytes"].as_u64().unwrap_or(0), s(&f["path"]));
    }
    let _ = writeln!(
        out,
        "{} files, {} bytes{}",
        v["file_count"],
        v["total_bytes"],
        if v["truncated"] == true { " (listing truncated)" } else { "" }
    );
    out
}

pub fn registered(v: &Value) -> String {
    format!(
        "registered '{}' (id {})\nyour token (shown once, keep it):\n  {}\nuse it with: export DARKROOM_TOKEN={}\n",
        s(&v["name"]),
        s(&v["id"]),
        s(&v["token"]),
        s(&v["token"])
    )
}

pub fn submission(v: &Value) -> String {
    let mut out = format!(
        "submission {}  {}  (challenge {}, phase {})\n",
        s(&v["id"]),
        s(&v["state"]),
        s(&v["challenge"]),
        s(&v["phase"])
    );
    if let Some(reason) = v["failure_reason"].as_str() {
        let _ = writeln!(out, "  reason: {reason}");
    }
    for t in v["history"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {}  {} → {}{}",
            s(&t["at"]),
            s(&t["from"]),
            s(&t["to"]),
            t["reason"].as_str().map(|r| format!("  ({r})")).unwrap_or_default()
        );
    }
    out
}

pub fn submissions(v: &Value) -> String {
    let mut out = format!("{:<38} {:<20} {:<11} SUBMITTED\n", "ID", "CHALLENGE", "STATE");
    for x in v.as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "{:<38} {:<20} {:<11} {}",
            s(&x["id"]),
            s(&x["challenge"]),
            s(&x["state"]),
            s(&x["created_at"])
        );
    }
    out
}

pub fn leaderboard(v: &Value) -> String {
    let rank_by = s(&v["rank_by"]).to_owned();
    let mut out =
        format!("{} — phase {} — ranked by {} ({})\n", s(&v["challenge"]), s(&v["phase"]), rank_by, s(&v["direction"]));
    let entries = v["entries"].as_array().cloned().unwrap_or_default();
    if entries.is_empty() {
        out.push_str("no scores yet\n");
        return out;
    }
    let _ = writeln!(out, "{:>4}  {:<24} {:>10}  {:>5}  BEST AT", "RANK", "PARTICIPANT", rank_by, "SUBS");
    for e in entries {
        let _ = writeln!(
            out,
            "{:>4}  {:<24} {:>10.4}  {:>5}  {}",
            e["rank"],
            s(&e["participant"]),
            e["metrics"][&rank_by].as_f64().unwrap_or(f64::NAN),
            e["submissions"],
            s(&e["scored_at"])
        );
    }
    out
}
