//! Archives in the shape `docker save` writes, for tests: valid ones and hostile variations.
//!
//! Compiled for this crate's tests and, behind the `archive-fixtures` feature, for the
//! integration tests; never part of a service binary.

/// One archive entry: its raw name (written into the header as is, so `..` and absolute names
/// can be tried), its content, and its type.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub data: Vec<u8>,
    pub kind: tar::EntryType,
}

impl Entry {
    pub fn file(name: &str, data: impl Into<Vec<u8>>) -> Self {
        Self { name: name.to_owned(), data: data.into(), kind: tar::EntryType::Regular }
    }
}

/// A layer: a tar of `files`.
pub fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        b.append_data(&mut h, name, *data).expect("in memory");
    }
    b.into_inner().expect("in memory")
}

pub use crate::digest::sha256_hex;

/// The entries of a one-image `docker save` archive: layers (uncompressed, as Engine 20.10
/// saves them), a config named by its digest, `manifest.json` with `tags`, and `repositories`.
pub fn docker_save(layers: &[Vec<u8>], entrypoint: &[&str], tags: &[&str]) -> Vec<Entry> {
    let diff_ids: Vec<String> = layers.iter().map(|l| format!("sha256:{}", sha256_hex(l))).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Entrypoint": entrypoint },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    }))
    .expect("json");
    let config_name = format!("{}.json", sha256_hex(&config));
    let mut entries = Vec::new();
    let mut layer_names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = format!("layer{i}/layer.tar");
        entries.push(Entry::file(&format!("layer{i}/VERSION"), "1.0"));
        entries.push(Entry::file(&name, l.clone()));
        layer_names.push(name);
    }
    entries.push(Entry::file(&config_name, config));
    let manifest = serde_json::json!([{ "Config": config_name, "RepoTags": tags, "Layers": layer_names }]);
    entries.push(Entry::file("manifest.json", serde_json::to_vec(&manifest).expect("json")));
    entries.push(Entry::file("repositories", "{}"));
    entries
}

/// Writes `entries` as a tar, names copied into the header bytes untouched (the `tar` crate
/// would refuse `..`). Names longer than 100 bytes are not supported.
pub fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_old();
        {
            let raw = h.as_old_mut();
            raw.name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        }
        h.set_size(e.data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(e.kind);
        if e.kind.is_symlink() || e.kind.is_hard_link() {
            h.set_link_name("/etc/passwd").expect("short");
        }
        h.set_cksum();
        b.append(&h, e.data.as_slice()).expect("in memory");
    }
    b.into_inner().expect("in memory")
}

/// `data` gzip-compressed.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("in memory");
    enc.finish().expect("in memory")
}

/// A gzip stream of `zeros` zero bytes, written in chunks (a decompression bomb: ~1000:1).
pub fn gzip_zeros(zeros: u64) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        enc.write_all(&chunk[..n]).expect("in memory");
        left -= n as u64;
    }
    enc.finish().expect("in memory")
}

/// The entries of an archive whose only layer is `compressed` (a gzip of something), with the
/// config's diff_id set to `diff_id` (the digest of the uncompressed layer).
/// `zeros` zero bytes, zstd-compressed: the other format the engine would unpack unbounded.
pub fn zstd_zeros(zeros: u64) -> Vec<u8> {
    use std::io::Read;
    ruzstd::encoding::compress_to_vec(std::io::repeat(0).take(zeros), ruzstd::encoding::CompressionLevel::Fastest)
}

pub fn with_compressed_layer(compressed: Vec<u8>, diff_id_of: &[u8]) -> Vec<Entry> {
    let mut entries = docker_save(&[diff_id_of.to_vec()], &["/x"], &["t:1"]);
    for e in &mut entries {
        if e.name == "layer0/layer.tar" {
            e.data = compressed.clone();
        }
    }
    entries
}
