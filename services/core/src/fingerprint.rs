//! Fingerprints of hidden data: what lets anyone tell later which data a score was computed on,
//! and lets the runner and the evaluator refuse to run on data that changed since the challenge
//! was applied (issue 17).
//!
//! **The digest.** A folder's [`TreeFingerprint`] is the SHA-256 of its files' records, sorted
//! by relative path (bytewise, `/`-separated, the folder's own name left out):
//!
//! ```text
//! "darkroom-tree-v1\n"  then, per file:  u64 BE length of path | path (UTF-8) | u64 BE size | SHA-256 of contents (32 bytes)
//! ```
//!
//! Length prefixes make the encoding unambiguous whatever a file name holds; the version line
//! lets a later encoding coexist. Only regular files count: an empty folder adds nothing.
//! Symbolic links are refused, not followed (a link's target resolves differently inside the
//! container than on the host, and following one could fingerprint data outside the data
//! roots), and so are sockets, FIFOs, devices (reading a FIFO would block forever) and names
//! that are not UTF-8.
//!
//! **Cost.** Every file is read once through a fixed buffer ([`BUFFER_BYTES`]): memory holds one
//! buffer and one [`FileEntry`] per file (about 150 bytes), never a file's contents. A stat walk
//! comes first, so progress is reported against a known total.
//!
//! **The cache.** A [`Manifest`] (every file's path, size, modification time and SHA-256) is kept
//! per folder in a [`Cache`] directory. Computing again reuses the SHA-256 of every file whose
//! (path, size, mtime) is unchanged and hashes only the others, so the check before each run is
//! a stat walk. Its limit, by design: a file rewritten with the same size and the same mtime (a
//! deliberate `touch -d`, or a clock that did not move) is not re-read; [`Cache::compute`] with
//! `full` re-reads everything, and `darkroom challenge fingerprint` never uses a cache.
//!
//! **Naming what changed.** The cache keeps the manifest that matched the fingerprint a check
//! expected; a later mismatch is compared with it, file by file ([`Changes`]). A host that never
//! saw the data as applied can tell that it differs, not which files do.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use darkroom_api::TreeFingerprint;

/// The read buffer: one per fingerprint in progress.
pub const BUFFER_BYTES: usize = 1 << 20;
/// How many changed files a [`Changes`] names; it counts the rest.
pub const MAX_NAMED: usize = 10;
const VERSION_LINE: &[u8] = b"darkroom-tree-v1\n";

/// One file of a fingerprinted folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the folder, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (the cheap check's key, with size).
    pub mtime_ns: i128,
    /// Lowercase hex SHA-256 of the contents.
    pub sha256: String,
}

/// A folder's files, sorted by path, and their fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub fingerprint: TreeFingerprint,
    pub files: Vec<FileEntry>,
}

/// How far a computation is: bytes read of those that need reading (unchanged files of a cached
/// manifest are not read, so they count in neither).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// Why a folder cannot be fingerprinted; paths are relative to it.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    #[error("cannot read '{path}': {source}")]
    Io { path: String, source: std::io::Error },
    #[error("'{0}' is a symbolic link, and fingerprints follow no links; replace it with what it points at")]
    Link(String),
    #[error("'{0}' is neither a regular file nor a folder (a socket, FIFO or device)")]
    Special(String),
    #[error("a file name under '{0}' is not UTF-8; rename it")]
    NotUtf8(String),
}

/// Fingerprints `root`, reusing the SHA-256 of every file `known` lists with the same size and
/// mtime. Returns the manifest and how many bytes were actually read.
pub fn fingerprint(
    root: &Path,
    known: Option<&Manifest>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Manifest, u64), FingerprintError> {
    let mut stats = stat_walk(root)?;
    stats.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let known: HashMap<&str, &FileEntry> =
        known.map(|m| m.files.iter().map(|f| (f.path.as_str(), f)).collect()).unwrap_or_default();
    // The SHA-256 a cached manifest already has for a file of the same size and mtime.
    let reused: Vec<Option<String>> = stats
        .iter()
        .map(|(path, size, mtime)| {
            known.get(path.as_str()).filter(|k| k.size == *size && k.mtime_ns == *mtime).map(|k| k.sha256.clone())
        })
        .collect();
    let mut p = Progress {
        files_total: reused.iter().filter(|r| r.is_none()).count() as u64,
        bytes_total: stats.iter().zip(&reused).filter(|(_, r)| r.is_none()).map(|(s, _)| s.1).sum(),
        ..Progress::default()
    };
    progress(p);
    let mut buf = vec![0u8; BUFFER_BYTES];
    let mut files = Vec::with_capacity(stats.len());
    for ((path, size, mtime_ns), reused) in stats.into_iter().zip(reused) {
        let entry = match reused {
            Some(sha256) => FileEntry { path, size, mtime_ns, sha256 },
            None => {
                let (sha256, read) = hash_file(root, &path, &mut buf, &mut p, progress)?;
                p.files_done += 1;
                progress(p);
                // A file that grew or shrank while it was read is recorded as read; its mtime
                // moved, so the next check reads it again.
                FileEntry { path, size: read, mtime_ns, sha256 }
            }
        };
        files.push(entry);
    }
    Ok((Manifest { fingerprint: digest_of(&files), files }, p.bytes_done))
}

/// The fingerprint of sorted file records (see the module's documentation).
pub fn digest_of(files: &[FileEntry]) -> TreeFingerprint {
    let mut h = Sha256::new();
    h.update(VERSION_LINE);
    for f in files {
        h.update((f.path.len() as u64).to_be_bytes());
        h.update(f.path.as_bytes());
        h.update(f.size.to_be_bytes());
        let mut sha = [0u8; 32];
        // Entries come from this module or a cache file it wrote; a corrupt one hashes as zeros
        // and so mismatches, which a check reports.
        let _ = hex::decode_to_slice(&f.sha256, &mut sha);
        h.update(sha);
    }
    TreeFingerprint {
        digest: hex::encode(h.finalize()),
        files: files.len() as u64,
        bytes: files.iter().map(|f| f.size).sum(),
    }
}

/// (relative path, size, mtime) of every regular file under `root`, unsorted.
fn stat_walk(root: &Path) -> Result<Vec<(String, u64, i128)>, FingerprintError> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false).follow_root_links(true) {
        let entry = entry.map_err(|e| {
            let path = e.path().map(|p| relative(root, p)).unwrap_or_default();
            FingerprintError::Io { path, source: e.into() }
        })?;
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let Some(rel_str) = rel.to_str() else {
            return Err(FingerprintError::NotUtf8(relative(root, entry.path().parent().unwrap_or(root))));
        };
        let kind = entry.file_type();
        if kind.is_dir() {
            continue;
        }
        if kind.is_symlink() {
            return Err(FingerprintError::Link(rel_str.to_owned()));
        }
        if !kind.is_file() {
            return Err(FingerprintError::Special(rel_str.to_owned()));
        }
        let meta = entry.metadata().map_err(|e| FingerprintError::Io { path: rel_str.to_owned(), source: e.into() })?;
        let mtime_ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        out.push((rel_str.to_owned(), meta.len(), mtime_ns));
    }
    Ok(out)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().into_owned()
}

/// Streams one file through SHA-256; returns its hex digest and length.
fn hash_file(
    root: &Path,
    rel: &str,
    buf: &mut [u8],
    p: &mut Progress,
    progress: &mut dyn FnMut(Progress),
) -> Result<(String, u64), FingerprintError> {
    let io = |source| FingerprintError::Io { path: rel.to_owned(), source };
    let mut file = std::fs::File::open(root.join(rel)).map_err(io)?;
    let mut h = Sha256::new();
    let mut len = 0u64;
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        h.update(&buf[..n]);
        len += n as u64;
        p.bytes_done += n as u64;
        progress(*p);
    }
    Ok((hex::encode(h.finalize()), len))
}

/// How two manifests of one folder differ, by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub changed: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl Changes {
    /// Compares `now` with `before` (both sorted by path, as [`fingerprint`] returns them).
    pub fn between(before: &Manifest, now: &Manifest) -> Self {
        let mut c = Changes::default();
        let (mut a, mut b) = (before.files.iter().peekable(), now.files.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(x), None) => {
                    c.removed.push(x.path.clone());
                    a.next();
                }
                (None, Some(y)) => {
                    c.added.push(y.path.clone());
                    b.next();
                }
                (Some(x), Some(y)) => match x.path.as_bytes().cmp(y.path.as_bytes()) {
                    std::cmp::Ordering::Less => {
                        c.removed.push(x.path.clone());
                        a.next();
                    }
                    std::cmp::Ordering::Greater => {
                        c.added.push(y.path.clone());
                        b.next();
                    }
                    std::cmp::Ordering::Equal => {
                        if x.size != y.size || x.sha256 != y.sha256 {
                            c.changed.push(y.path.clone());
                        }
                        a.next();
                        b.next();
                    }
                },
            }
        }
        c
    }

    pub fn count(&self) -> usize {
        self.changed.len() + self.added.len() + self.removed.len()
    }
}

/// "changed 'a', added 'b', removed 'c' and 4 more": at most [`MAX_NAMED`] names.
impl fmt::Display for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut named = 0;
        let mut first = true;
        for (verb, paths) in [("changed", &self.changed), ("added", &self.added), ("removed", &self.removed)] {
            for p in paths {
                if named == MAX_NAMED {
                    return write!(f, " and {} more", self.count() - named);
                }
                write!(f, "{}{verb} '{p}'", if first { "" } else { ", " })?;
                first = false;
                named += 1;
            }
        }
        Ok(())
    }
}

/// A check found other data than the fingerprint it expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: TreeFingerprint,
    pub found: TreeFingerprint,
    /// Against the manifest that matched `expected`, when this host kept one.
    pub changes: Option<Changes>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (e, n) = (&self.expected, &self.found);
        write!(
            f,
            "the data changed since the challenge was applied: it was {} ({} files, {} bytes), it is {} ({} files, {} \
             bytes); ",
            e.digest, e.files, e.bytes, n.digest, n.files, n.bytes
        )?;
        match &self.changes {
            Some(c) if c.count() == 1 => write!(f, "1 file differs: {c}")?,
            Some(c) if c.count() > 0 => write!(f, "{} files differ: {c}", c.count())?,
            _ => write!(f, "this host kept no record of the data as applied, so it cannot name the files that differ")?,
        }
        write!(f, ". Restore the data, or apply the challenge again to fingerprint it as it is now")
    }
}

/// Why a check failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the data cannot be fingerprinted: {0}")]
    Unreadable(#[from] FingerprintError),
    #[error("{0}")]
    Changed(Box<Mismatch>),
}

/// What a participant reads when their run or evaluation is refused because the data changed:
/// the files are the organizer's business (their names could say something about hidden data).
pub const CHANGED_REASON: &str = "the platform failed: the challenge's data changed since the challenge was \
     applied; the organizer has been told, and it does not count against your quota";

/// The check the runner (dataset) and the evaluator (ground truth) make before running: none
/// when the request carries no fingerprint (a challenge applied before fingerprints); `Err` is
/// the organizer's detail.
pub fn check_before_run(
    cache: &Cache,
    what: &str,
    root: &Path,
    expected: Option<&TreeFingerprint>,
) -> Result<(), String> {
    let Some(expected) = expected else { return Ok(()) };
    cache.check(root, expected).map(drop).map_err(|e| format!("the {what} at '{}': {e}", root.display()))
}

/// A directory of manifests, one per fingerprinted folder (named by the SHA-256 of its path).
/// Writes go through a temporary file and a rename, so concurrent checks never read half a
/// manifest; a manifest that does not parse is ignored (everything is read again).
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn file_for(&self, root: &Path) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        self.dir.join(format!("{}.json", hex::encode(Sha256::digest(root.as_os_str().as_bytes()))))
    }

    /// The manifest last stored for `root`.
    pub fn load(&self, root: &Path) -> Option<Manifest> {
        let bytes = std::fs::read(self.file_for(root)).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(root = %root.display(), error = %e, "fingerprint cache unreadable; reading the data again");
                None
            }
        }
    }

    fn store(&self, root: &Path, manifest: &Manifest) {
        let stored = (|| {
            std::fs::create_dir_all(&self.dir)?;
            let dest = self.file_for(root);
            let tmp = dest.with_extension(format!("tmp-{}-{:?}", std::process::id(), std::thread::current().id()));
            std::fs::write(&tmp, serde_json::to_vec(manifest)?)?;
            std::fs::rename(&tmp, &dest)
        })();
        // The cache saves time, never decides: a failed write costs a full read next time.
        if let Err(e) = stored {
            tracing::warn!(root = %root.display(), cache = %self.dir.display(), error = %e, "fingerprint cache not written");
        }
    }

    /// Fingerprints `root` now, reusing cached hashes of files whose size and mtime did not
    /// change (none with `full`), and stores the manifest. What applying a challenge runs.
    pub fn compute(
        &self,
        root: &Path,
        full: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(Manifest, u64), FingerprintError> {
        let known = if full { None } else { self.load(root) };
        let (manifest, read) = fingerprint(root, known.as_ref(), progress)?;
        self.store(root, &manifest);
        Ok((manifest, read))
    }

    /// Checks that `root` still has the fingerprint `expected`: a stat walk, reading only files
    /// whose size or mtime changed since the cached manifest. What runs before each run.
    ///
    /// The cache keeps the manifest that matched `expected` when there was one, so every later
    /// mismatch is named against the data as applied.
    pub fn check(&self, root: &Path, expected: &TreeFingerprint) -> Result<Manifest, CheckError> {
        let known = self.load(root);
        let (manifest, read) = fingerprint(root, known.as_ref(), &mut |_| {})?;
        let baseline = known.filter(|k| &k.fingerprint == expected);
        if &manifest.fingerprint == expected {
            if read > 0 || baseline.is_none() {
                self.store(root, &manifest);
            }
            return Ok(manifest);
        }
        let changes = baseline.as_ref().map(|b| Changes::between(b, &manifest));
        if baseline.is_none() {
            // Nothing to keep: at least the next check reads only what changes again.
            self.store(root, &manifest);
        }
        Err(CheckError::Changed(Box::new(Mismatch {
            expected: expected.clone(),
            found: manifest.fingerprint,
            changes,
        })))
    }
}

#[cfg(test)]
mod tests;
