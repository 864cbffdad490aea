//! Reading the demo's patches (binary PGM) and labels.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};

pub struct Split {
    pub ids: Vec<String>,
    /// Pixels scaled to [0, 1], one `side × side` patch after another.
    pub pixels: Vec<f32>,
    pub side: usize,
    /// 1 for 40x, 0 for 20x; empty for the test split.
    pub labels: Vec<u32>,
}

pub fn read_pgm(path: &Path) -> anyhow::Result<(usize, Vec<u8>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    // Header: "P5", width, height, maxval, each followed by whitespace.
    let mut fields = Vec::new();
    let mut pos = 0;
    while fields.len() < 4 {
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let start = pos;
        while pos < bytes.len() && !bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if start == pos {
            bail!("{}: truncated PGM header", path.display());
        }
        fields.push(String::from_utf8_lossy(&bytes[start..pos]).into_owned());
    }
    let (w, h): (usize, usize) = (fields[1].parse()?, fields[2].parse()?);
    if fields[0] != "P5" || w != h || fields[3] != "255" {
        bail!("{}: expected a square 8-bit binary PGM", path.display());
    }
    let body = &bytes[pos + 1..];
    if body.len() != w * h {
        bail!("{}: expected {} pixels, found {}", path.display(), w * h, body.len());
    }
    Ok((w, body.to_vec()))
}

pub fn load_split(dir: &Path, labelled: bool) -> anyhow::Result<Split> {
    let mut names: Vec<_> = std::fs::read_dir(dir.join("images"))
        .with_context(|| format!("listing {}/images", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".pgm"))
        .collect();
    names.sort();
    let labels_by_id: HashMap<String, u32> = if labelled {
        let text = std::fs::read_to_string(dir.join("labels.csv")).context("reading labels.csv")?;
        text.lines()
            .skip(1)
            .filter_map(|l| l.split_once(','))
            .map(|(id, label)| (id.to_owned(), u32::from(label.trim() == "40x")))
            .collect()
    } else {
        HashMap::new()
    };
    let mut split = Split { ids: Vec::new(), pixels: Vec::new(), side: 0, labels: Vec::new() };
    for name in names {
        let (side, px) = read_pgm(&dir.join("images").join(&name))?;
        split.side = side;
        let id = name.trim_end_matches(".pgm").to_owned();
        if labelled {
            split.labels.push(*labels_by_id.get(&id).with_context(|| format!("no label for {id}"))?);
        }
        split.pixels.extend(px.iter().map(|p| *p as f32 / 255.0));
        split.ids.push(id);
    }
    if split.ids.is_empty() {
        bail!("no .pgm patches in {}/images", dir.display());
    }
    Ok(split)
}
