//! `evaluate`: the demo's evaluation image. Reads the participant's
//! `/input/predictions/predictions.csv` (`id,p40x`) and the hidden
//! `/input/ground-truth/test_labels.csv` (`id,label`) and writes, per evaluation contract v2
//! (`docs/evaluation-contract.md`):
//! - `/output/score.json`: `{"public": {…}, "private": {…}}`, `accuracy` (at p ≥ 0.5) and
//!   `roc_auc` on each half of the test set. The halves are fixed: a case is private when the
//!   FNV-1a hash of its id (a fixed seed) is odd, so about half are, the same at every run;
//! - `/output/cases.csv`: each case's accuracy (1 when right, 0 when wrong), of which
//!   `accuracy` is the mean (declared `aggregate = "mean"` in the demo's spec).
//!
//! Only the public split is printed: the output of an evaluation may reach a failure's detail.
//! Any problem with the predictions is an error naming the line, and a non-zero exit.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};

fn main() {
    if let Err(e) = run(
        Path::new("/input/predictions/predictions.csv"),
        Path::new("/input/ground-truth/test_labels.csv"),
        Path::new("/output"),
    ) {
        eprintln!("evaluation error: {e:#}");
        std::process::exit(1);
    }
}

fn run(predictions: &Path, truth: &Path, out: &Path) -> anyhow::Result<()> {
    let truth = read_truth(truth)?;
    let predicted = read_predictions(predictions)?;
    let mut splits: [Vec<(&str, f64, bool)>; 2] = [Vec::new(), Vec::new()];
    for (id, label) in &truth {
        let p = predicted.get(id).with_context(|| format!("predictions.csv has no line for '{id}'"))?;
        splits[is_private(id) as usize].push((id, *p, *label));
    }
    if let Some(extra) = predicted.keys().find(|id| !truth.contains_key(*id)) {
        bail!("predictions.csv names '{extra}', which is not a test patch");
    }
    let score = |cases: &[(&str, f64, bool)]| {
        let pairs: Vec<(f64, bool)> = cases.iter().map(|(_, p, y)| (*p, *y)).collect();
        serde_json::json!({ "accuracy": accuracy(&pairs), "roc_auc": roc_auc(&pairs) })
    };
    let [public, private] = &mut splits;
    // Sorted, so both files are the same bytes at every run.
    public.sort_by(|a, b| a.0.cmp(b.0));
    private.sort_by(|a, b| a.0.cmp(b.0));
    let scores = serde_json::json!({ "public": score(public), "private": score(private) });
    let mut cases = String::from("split,case_id,value\n");
    for (split, rows) in [("public", &*public), ("private", &*private)] {
        for (id, p, y) in rows {
            cases.push_str(&format!("{split},{id},{}\n", u8::from((*p >= 0.5) == *y)));
        }
    }
    let write = |name: &str, bytes: &[u8]| {
        let path = out.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
    write("score.json", &serde_json::to_vec(&scores)?)?;
    write("cases.csv", cases.as_bytes())?;
    println!("public: {}", scores["public"]);
    Ok(())
}

/// Whether a case belongs to the private half: FNV-1a (64 bit) of its id is odd. Fixed, so a
/// case stays in its half whatever the predictions, the run or the machine.
fn is_private(id: &str) -> bool {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    hash & 1 == 1
}

fn read_truth(path: &Path) -> anyhow::Result<HashMap<String, bool>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(id, label)| (id.to_owned(), label.trim() == "40x"))
        .collect())
}

fn read_predictions(path: &Path) -> anyhow::Result<HashMap<String, f64>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {} (did the participant write it?)", path.display()))?;
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("id,p40x") {
        bail!("predictions.csv must start with the header 'id,p40x'");
    }
    let mut out = HashMap::new();
    for (n, line) in lines.enumerate() {
        let (id, p) = line.split_once(',').with_context(|| format!("line {}: expected 'id,p40x'", n + 2))?;
        let p: f64 = p.trim().parse().with_context(|| format!("line {}: '{p}' is not a number", n + 2))?;
        if !(0.0..=1.0).contains(&p) {
            bail!("line {}: probability {p} is not between 0 and 1", n + 2);
        }
        if out.insert(id.to_owned(), p).is_some() {
            bail!("line {}: '{id}' is predicted twice", n + 2);
        }
    }
    Ok(out)
}

fn accuracy(pairs: &[(f64, bool)]) -> f64 {
    pairs.iter().filter(|(p, y)| (*p >= 0.5) == *y).count() as f64 / pairs.len().max(1) as f64
}

/// The probability that a random positive outranks a random negative (ties count half).
fn roc_auc(pairs: &[(f64, bool)]) -> f64 {
    let mut sorted: Vec<_> = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum, mut i) = (0.0, 0);
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        let mid_rank = (i + j + 1) as f64 / 2.0; // ranks are 1-based; ties share the mean rank
        rank_sum += mid_rank * sorted[i..j].iter().filter(|(_, y)| *y).count() as f64;
        i = j;
    }
    let positives = pairs.iter().filter(|(_, y)| *y).count() as f64;
    let negatives = pairs.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return 0.5;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics() {
        let perfect = [(0.9, true), (0.8, true), (0.1, false), (0.2, false)];
        assert_eq!((accuracy(&perfect), roc_auc(&perfect)), (1.0, 1.0));
        let inverted = [(0.1, true), (0.9, false)];
        assert_eq!((accuracy(&inverted), roc_auc(&inverted)), (0.0, 0.0));
        let ties = [(0.5, true), (0.5, false)];
        assert_eq!(roc_auc(&ties), 0.5);
    }

    #[test]
    fn bad_predictions_are_named() {
        let dir = std::env::temp_dir().join(format!("eval-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let truth = dir.join("t.csv");
        std::fs::write(&truth, "id,label\na,40x\nb,20x\n").unwrap();
        for (preds, says) in [
            ("id,p40x\na,0.9\n", "no line for 'b'"),
            ("id,p40x\na,0.9\nb,2\n", "not between 0 and 1"),
            ("id,p40x\na,x\nb,0.1\n", "not a number"),
            ("nope\n", "header"),
            ("id,p40x\na,0.9\nb,0.1\nc,0.3\n", "'c'"),
        ] {
            let p = dir.join("p.csv");
            std::fs::write(&p, preds).unwrap();
            let e = run(&p, &truth, &dir).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn writes_both_splits_and_the_cases_they_are_the_mean_of() {
        let dir = std::env::temp_dir().join(format!("eval-split-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ids: Vec<String> = (0..200).map(|i| format!("patch_{i:04}")).collect();
        let truth: String = ids.iter().enumerate().map(|(i, id)| format!("{id},{}\n", ["20x", "40x"][i % 2])).collect();
        std::fs::write(dir.join("t.csv"), format!("id,label\n{truth}")).unwrap();
        let preds: String = ids.iter().enumerate().map(|(i, id)| format!("{id},{}\n", [0.2, 0.9][i % 3 % 2])).collect();
        std::fs::write(dir.join("p.csv"), format!("id,p40x\n{preds}")).unwrap();
        run(&dir.join("p.csv"), &dir.join("t.csv"), &dir).unwrap();
        let score: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("score.json")).unwrap()).unwrap();
        let cases = std::fs::read_to_string(dir.join("cases.csv")).unwrap();
        assert!(cases.starts_with("split,case_id,value\n"));
        let private = ids.iter().filter(|id| is_private(id)).count();
        assert!((70..=130).contains(&private), "{private} of 200 private");
        for split in ["public", "private"] {
            let values: Vec<f64> = cases
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("{split},")))
                .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
                .collect();
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            assert_eq!(mean, score[split]["accuracy"].as_f64().unwrap(), "{split}");
        }
        // The same split at every run.
        let before = cases;
        run(&dir.join("p.csv"), &dir.join("t.csv"), &dir).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("cases.csv")).unwrap(), before);
    }
}
