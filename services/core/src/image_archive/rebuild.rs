//! Step 2: the archive the engine loads, written here from an [`ArchivePlan`]: our manifest and
//! tag, the config under its digest, and each layer decompressed by us, metered against the
//! image budget, required to be a tar stream and checked against its `diff_id`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{ArchiveError, ArchivePlan, TAR_BLOCK, refuse};

/// What [`rebuild`] wrote.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    /// `sha256:<config digest>`: the id the engine must report after loading.
    pub image_id: String,
    /// The image's decompressed size (the sum of its layers).
    pub image_bytes: u64,
}

/// How a layer is compressed, by its first bytes (the formats the engine would unpack).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

fn sniff(head: &[u8]) -> Compression {
    match head {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Compression::Xz,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
        [b'B', b'Z', b'h', ..] => Compression::Bzip2,
        _ => Compression::None,
    }
}

/// Refuses a layer whose (decompressed) content does not start as a tar stream: compressed
/// again (the engine would unpack the inner stream with no limit before its own checks) or
/// not a layer at all.
fn check_tar_start(head: &[u8], layer_no: usize, name: &str) -> Result<(), ArchiveError> {
    let compressed = sniff(head) != Compression::None;
    let tar = head.len() == TAR_BLOCK && (head.iter().all(|b| *b == 0) || &head[257..262] == b"ustar");
    if compressed || !tar {
        return Err(refuse(format!(
            "layer {layer_no} ('{name}') is not a tar stream once decompressed{}",
            if compressed { " (it is compressed twice)" } else { "" }
        )));
    }
    Ok(())
}

/// Counts and hashes what passes through, and fails once more than `budget` bytes did.
struct Metered<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
    budget: u64,
}

const OVER_BUDGET: &str = "darkroom: over the image size budget";

impl<W: Write> Write for Metered<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written + buf.len() as u64 > self.budget {
            return Err(std::io::Error::other(OVER_BUDGET));
        }
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn over_budget(e: &std::io::Error) -> bool {
    e.to_string().contains(OVER_BUDGET)
}

/// Writes the plan's image from `src` to `dst` as a fresh archive tagged `tag` (see the module
/// docs). Layers are decompressed here, at most `max_image_bytes` in all. `dst` is removed
/// when anything is refused.
pub fn rebuild(
    src: &Path,
    plan: &ArchivePlan,
    dst: &Path,
    tag: &str,
    max_image_bytes: u64,
) -> Result<Rebuilt, ArchiveError> {
    let result = write_rebuilt(src, plan, dst, tag, max_image_bytes);
    if result.is_err() {
        let _ = std::fs::remove_file(dst);
    }
    result
}

fn write_rebuilt(
    src: &Path,
    plan: &ArchivePlan,
    dst: &Path,
    tag: &str,
    max_image_bytes: u64,
) -> Result<Rebuilt, ArchiveError> {
    let mut out = tar::Builder::new(std::io::BufWriter::new(File::create(dst)?));
    let config_name = format!("{}.json", plan.config_digest);
    append(&mut out, &config_name, plan.config.len() as u64, plan.config.as_slice())?;
    let mut written: HashMap<String, u64> = HashMap::new();
    let mut layer_names = Vec::new();
    let mut total: u64 = 0;
    for (i, ((name, span), diff_id)) in plan.layers.iter().zip(&plan.diff_ids).enumerate() {
        let hex = &diff_id["sha256:".len()..];
        let layer_name = format!("{hex}/layer.tar");
        layer_names.push(layer_name.clone());
        let layer_no = i + 1;
        // The engine applies a layer once per position, so a repeated one costs its size again.
        if let Some(&size) = written.get(&layer_name) {
            total += size;
            if total > max_image_bytes {
                return Err(ArchiveError::TooLarge {
                    limit: max_image_bytes,
                    detail: format!("layer {layer_no} repeats an earlier one and its size counts again"),
                });
            }
            continue;
        }
        let mut file = File::open(src)?;
        file.seek(SeekFrom::Start(span.offset))?;
        let mut reader = BufReader::new(file.take(span.size));
        let head = {
            use std::io::BufRead;
            let buf = reader.fill_buf()?;
            buf[..buf.len().min(TAR_BLOCK)].to_vec()
        };
        let budget = max_image_bytes.saturating_sub(total);
        let too_large = |detail: String| ArchiveError::TooLarge { limit: max_image_bytes, detail };
        let (bytes, digest) = match sniff(&head) {
            Compression::Bzip2 | Compression::Xz => {
                return Err(refuse(format!(
                    "layer {layer_no} ('{name}') is bzip2- or xz-compressed; save the image with 'docker save' (plain or gzip layers)"
                )));
            }
            Compression::None => {
                if span.size > budget {
                    return Err(too_large(format!("layer {layer_no} ('{name}') alone is {} bytes", span.size)));
                }
                check_tar_start(&head, layer_no, name)?;
                let mut hashing = HashingReader { inner: reader, hasher: Sha256::new() };
                append(&mut out, &layer_name, span.size, &mut hashing)?;
                (span.size, hex::encode(hashing.hasher.finalize()))
            }
            compression => {
                // The decompressed size is only known at the end, and a tar header needs it
                // first: unpack to a file beside the destination, then append it.
                let spool_path = dst.with_extension(format!("layer{i}.tmp"));
                let spool = File::create(&spool_path)?;
                let mut metered =
                    Metered { inner: std::io::BufWriter::new(spool), hasher: Sha256::new(), written: 0, budget };
                let unpacked = decompress(compression, reader, &mut metered);
                let finished = match unpacked {
                    Err(e) if over_budget(&e) => {
                        Err(too_large(format!("layer {layer_no} ('{name}') decompresses past the limit")))
                    }
                    Err(e) => Err(refuse(format!("layer {layer_no} ('{name}') does not decompress: {e}"))),
                    Ok(()) => metered.flush().map_err(ArchiveError::from).map(|()| metered),
                };
                let finished = match finished {
                    Ok(m) => m,
                    Err(e) => {
                        let _ = std::fs::remove_file(&spool_path);
                        return Err(e);
                    }
                };
                let (bytes, digest) = (finished.written, hex::encode(finished.hasher.finalize()));
                drop(finished.inner);
                let appended = File::open(&spool_path).map_err(ArchiveError::from).and_then(|mut f| {
                    let mut head = Vec::new();
                    (&mut f).take(TAR_BLOCK as u64).read_to_end(&mut head)?;
                    check_tar_start(&head, layer_no, name)?;
                    f.seek(SeekFrom::Start(0))?;
                    Ok(append(&mut out, &layer_name, bytes, BufReader::new(f))?)
                });
                let _ = std::fs::remove_file(&spool_path);
                appended?;
                (bytes, digest)
            }
        };
        if digest != hex {
            return Err(refuse(format!(
                "layer {layer_no} ('{name}') unpacks to sha256:{digest}, but the config's diff_id says {diff_id}"
            )));
        }
        total += bytes;
        written.insert(layer_name, bytes);
    }
    let manifest = serde_json::json!([{ "Config": config_name, "RepoTags": [tag], "Layers": layer_names }]);
    let manifest = serde_json::to_vec(&manifest).map_err(std::io::Error::other)?;
    append(&mut out, "manifest.json", manifest.len() as u64, manifest.as_slice())?;
    out.into_inner()?.flush()?;
    Ok(Rebuilt { image_id: plan.image_id(), image_bytes: total })
}

fn decompress(compression: Compression, reader: impl Read, out: &mut impl Write) -> std::io::Result<()> {
    match compression {
        Compression::Gzip => std::io::copy(&mut flate2::read::MultiGzDecoder::new(reader), out).map(drop),
        Compression::Zstd => {
            let mut decoder = ruzstd::decoding::StreamingDecoder::new(reader).map_err(std::io::Error::other)?;
            std::io::copy(&mut decoder, out).map(drop)
        }
        Compression::None | Compression::Bzip2 | Compression::Xz => unreachable!("handled by the caller"),
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn append<W: Write>(out: &mut tar::Builder<W>, name: &str, size: u64, data: impl Read) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    out.append_data(&mut header, name, data)
}
