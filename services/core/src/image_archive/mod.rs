//! Participants' `docker save` archives, checked and rebuilt before any engine reads them.
//!
//! The engine reads an image archive loosely: entry names are normalised (`./x`, `.//x` and `x`
//! are one file, the last one wins), OCI layout files and the legacy `repositories` file are
//! honoured, tags written in the archive are applied, and compressed layers are unpacked with
//! no size limit. Each of those let a participant's upload act on the engine (one replaced the
//! organizer's evaluation image). So an upload never reaches the engine as written:
//!
//! 1. [`inspect`] reads every entry once and refuses, with a reason the participant can act on,
//!    duplicate or non-canonical names, absolute or `..` names, links, device files, more than
//!    one image, a manifest naming a missing file, and a config whose SHA-256 is not its name.
//! 2. [`rebuild`] writes a new archive holding exactly one image: a manifest written here with
//!    the platform's tag, the config under its digest, and each layer decompressed by Darkroom
//!    (gzip, zstd or plain), counted against `max_image_bytes` while it is read (a
//!    decompression bomb stops at the limit; a layer listed twice counts twice), required to be
//!    a tar stream (never compressed twice) and checked against the config's `diff_ids`.
//!    Nothing else is copied: `repositories`, `index.json` and `oci-layout` are dropped, so the
//!    engine never reads a name the participant chose.
//!
//! After the load, the engine's image id must equal [`Rebuilt::image_id`] (the config's digest);
//! the runner checks that.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The largest `manifest.json`, `index.json` or image config read into memory.
const MAX_METADATA_BYTES: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The archive breaks a rule; the message says which and is meant for the participant.
    #[error("{0}")]
    Refused(String),
    /// The decompressed image is larger than the platform allows.
    #[error("the image unpacks to more than {limit} bytes (max_image_bytes); {detail}")]
    TooLarge { limit: u64, detail: String },
    /// Reading or writing the host's files failed: not the participant's fault.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn refuse(reason: impl Into<String>) -> ArchiveError {
    ArchiveError::Refused(reason.into())
}

/// Where one entry's content sits in the archive file.
#[derive(Debug, Clone, Copy)]
struct Span {
    offset: u64,
    size: u64,
}

/// A checked archive: the one image it holds and where its parts are.
#[derive(Debug, Clone)]
pub struct ArchivePlan {
    config: Vec<u8>,
    /// Hex SHA-256 of the config: the image id the engine must report.
    config_digest: String,
    layers: Vec<(String, Span)>,
    diff_ids: Vec<String>,
    /// The tags the participant wrote (logged, never applied).
    pub repo_tags: Vec<String>,
}

impl ArchivePlan {
    /// `sha256:<hex>` of the config, which the engine uses as the image id.
    pub fn image_id(&self) -> String {
        format!("sha256:{}", self.config_digest)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Normalises an entry name the way the engine does; refuses absolute and `..` names.
fn canonical(name: &Path) -> Result<String, &'static str> {
    let mut parts = Vec::new();
    for c in name.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path"),
            Component::ParentDir => return Err("contains '..'"),
        }
    }
    if parts.is_empty() {
        return Err("is empty");
    }
    Ok(parts.join("/"))
}

fn read_small(entry: &mut impl Read, what: &str) -> Result<Vec<u8>, ArchiveError> {
    let mut buf = Vec::new();
    entry.take(MAX_METADATA_BYTES + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_METADATA_BYTES {
        return Err(refuse(format!("{what} is larger than {MAX_METADATA_BYTES} bytes")));
    }
    Ok(buf)
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The digest a config's name claims: `<hex>.json` (docker save) or `blobs/sha256/<hex>` (OCI).
fn digest_in_name(name: &str) -> Option<&str> {
    let hex = name.strip_suffix(".json").or_else(|| name.strip_prefix("blobs/sha256/"))?;
    is_sha256_hex(hex).then_some(hex)
}

/// Most entries an archive may hold (a `docker save` has a handful per layer).
const MAX_ENTRIES: usize = 100_000;
/// A tar header, and the unit tar pads entries to.
const TAR_BLOCK: usize = 512;
/// Most bytes of one long-name or PAX metadata entry, which tar readers hold in memory.
const MAX_METADATA_ENTRY: u64 = 64 << 10;
/// Most layers of one image (overlay2 stacks at most 128).
const MAX_LAYERS: usize = 125;

/// Walks the raw 512-byte headers before any tar reader sees the archive: the `tar` crate
/// reads GNU long names and PAX records whole into memory, so a multi-gigabyte one (or
/// millions of entries) would exhaust the API's memory.
fn prescan(file: &mut File) -> Result<(), ArchiveError> {
    let mut header = [0u8; TAR_BLOCK];
    let mut entries = 0usize;
    loop {
        let mut filled = 0;
        while filled < TAR_BLOCK {
            match file.read(&mut header[filled..])? {
                0 => return Ok(()), // a truncated archive is the tar reader's to report
                n => filled += n,
            }
        }
        if header.iter().all(|b| *b == 0) {
            return Ok(());
        }
        entries += 1;
        if entries > MAX_ENTRIES {
            return Err(refuse(format!(
                "it holds more than {MAX_ENTRIES} entries; an image archive holds a few per layer"
            )));
        }
        let size = header_size(&header[124..136]).ok_or_else(|| refuse("an entry's size field is not a number"))?;
        if matches!(header[156], b'L' | b'K' | b'x' | b'g') && size > MAX_METADATA_ENTRY {
            return Err(refuse(format!(
                "a long-name or PAX metadata entry holds {size} bytes (at most {MAX_METADATA_ENTRY})"
            )));
        }
        let padded = size.div_ceil(TAR_BLOCK as u64) * TAR_BLOCK as u64;
        let skip = i64::try_from(padded).map_err(|_| refuse("an entry's size is out of range"))?;
        file.seek(SeekFrom::Current(skip))?;
    }
}

/// A tar header's size field: octal digits, or base-256 when the first byte's high bit is set.
fn header_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut value: u64 = u64::from(field[0] & 0x7f);
        for b in &field[1..] {
            value = value.checked_mul(256)?.checked_add(u64::from(*b))?;
        }
        return Some(value);
    }
    let digits: &[u8] = {
        let trimmed = field.split(|b| *b == 0 || *b == b' ').find(|p| !p.is_empty());
        trimmed.unwrap_or(b"0")
    };
    let text = std::str::from_utf8(digits).ok()?;
    u64::from_str_radix(text, 8).ok()
}

/// Reads every entry of the archive at `path` and checks its shape (see the module docs).
pub fn inspect(path: &Path) -> Result<ArchivePlan, ArchiveError> {
    prescan(&mut File::open(path)?)?;
    let mut archive = tar::Archive::new(BufReader::new(File::open(path)?));
    let corrupt = |e: std::io::Error| refuse(format!("it is not a readable tar archive ({e})"));
    let mut spans: HashMap<String, Span> = HashMap::new();
    let mut spelled: HashMap<String, String> = HashMap::new();
    let mut manifest = None;
    let mut index = None;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let raw = entry.path().map_err(corrupt)?.into_owned();
        let shown = raw.display().to_string();
        let kind = entry.header().entry_type();
        if kind == tar::EntryType::XGlobalHeader {
            continue;
        }
        let name = canonical(&raw).map_err(|why| refuse(format!("entry '{shown}' {why}")))?;
        if let Some(first) = spelled.insert(name.clone(), shown.clone()) {
            return Err(refuse(format!(
                "entries '{first}' and '{shown}' name the same file '{name}'; an image archive names each file once"
            )));
        }
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(refuse(format!("entry '{shown}' is a link; image archives hold only files and folders")));
        }
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            return Err(refuse(format!(
                "entry '{shown}' is a {kind:?} (a device, fifo or other special file); image archives hold only files and folders"
            )));
        }
        match name.as_str() {
            "manifest.json" => manifest = Some(read_small(&mut entry, "manifest.json")?),
            "index.json" => index = Some(read_small(&mut entry, "index.json")?),
            _ => {
                let span = Span { offset: entry.raw_file_position(), size: entry.size() };
                // Reading to the end is what detects a truncated archive.
                std::io::copy(&mut entry, &mut std::io::sink()).map_err(corrupt)?;
                spans.insert(name, span);
            }
        }
    }
    let manifest = manifest.ok_or_else(|| refuse("it has no manifest.json"))?;
    let entries: Vec<ManifestEntry> =
        serde_json::from_slice(&manifest).map_err(|e| refuse(format!("manifest.json does not parse: {e}")))?;
    if entries.len() != 1 {
        return Err(refuse(format!(
            "manifest.json lists {} images; save exactly one image per submission",
            entries.len()
        )));
    }
    if let Some(index) = index {
        let count = serde_json::from_slice::<serde_json::Value>(&index)
            .ok()
            .and_then(|v| v.get("manifests").and_then(|m| m.as_array()).map(Vec::len))
            .ok_or_else(|| refuse("index.json is not an OCI image index"))?;
        if count > 1 {
            return Err(refuse(format!("index.json lists {count} images; save exactly one image per submission")));
        }
    }
    let image = entries.into_iter().next().expect("checked: one entry");
    if image.layers.len() > MAX_LAYERS {
        return Err(refuse(format!("the image has {} layers; at most {MAX_LAYERS} are accepted", image.layers.len())));
    }
    let find = |referenced: &str| -> Result<(String, Span), ArchiveError> {
        let name = canonical(Path::new(referenced))
            .map_err(|why| refuse(format!("manifest.json names '{referenced}', which {why}")))?;
        let span = *spans.get(&name).ok_or_else(|| {
            refuse(format!("manifest.json names '{referenced}', which the archive lacks (truncated?)"))
        })?;
        Ok((name, span))
    };
    let (config_name, config_span) = find(&image.config)?;
    let claimed = digest_in_name(&config_name).ok_or_else(|| {
        refuse(format!(
            "the config '{config_name}' is not named by its SHA-256 ('<sha256>.json' or 'blobs/sha256/<sha256>')"
        ))
    })?;
    if config_span.size > MAX_METADATA_BYTES {
        return Err(refuse(format!("the config '{config_name}' is larger than {MAX_METADATA_BYTES} bytes")));
    }
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(config_span.offset))?;
    let mut config = Vec::new();
    file.take(config_span.size).read_to_end(&mut config)?;
    let digest = hex::encode(Sha256::digest(&config));
    if digest != claimed {
        return Err(refuse(format!("the config '{config_name}' has SHA-256 {digest}, not the one its name claims")));
    }
    let parsed: serde_json::Value =
        serde_json::from_slice(&config).map_err(|e| refuse(format!("the image config does not parse: {e}")))?;
    let diff_ids: Vec<String> = parsed
        .pointer("/rootfs/diff_ids")
        .and_then(|d| serde_json::from_value(d.clone()).ok())
        .ok_or_else(|| refuse("the image config has no rootfs.diff_ids list"))?;
    if diff_ids.len() != image.layers.len() {
        return Err(refuse(format!(
            "manifest.json lists {} layers but the config describes {}",
            image.layers.len(),
            diff_ids.len()
        )));
    }
    if let Some(bad) = diff_ids.iter().find(|d| !d.strip_prefix("sha256:").is_some_and(is_sha256_hex)) {
        return Err(refuse(format!("the config's diff_id '{bad}' is not a sha256 digest")));
    }
    let layers = image.layers.iter().map(|l| find(l)).collect::<Result<Vec<_>, _>>()?;
    Ok(ArchivePlan { config, config_digest: digest, layers, diff_ids, repo_tags: image.repo_tags.unwrap_or_default() })
}

mod rebuild;
pub use rebuild::{Rebuilt, rebuild};

#[cfg(any(test, feature = "archive-fixtures"))]
pub mod fixture;
#[cfg(test)]
mod tests;
