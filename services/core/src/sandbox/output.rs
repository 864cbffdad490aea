//! The host folder behind a run's `/output`: how it is created (a size- and inode-capped tmpfs
//! where the process may mount one), measured (a bounded, iterative walk), and packed (a tar
//! streamed to a file, never held whole in memory).

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use super::SandboxError;

/// Inodes beyond the file limit on the tmpfs: its root, and room for the walk to see that the
/// limit was passed rather than the writes merely stopping at it.
const INODE_SLACK: u64 = 16;

/// What `/output` may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    pub max_files: u64,
    pub max_depth: u32,
}

/// What the walk found. The walk stops at the first limit passed, so the counts are exact only
/// when no limit was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputScan {
    pub bytes: u64,
    /// Every entry below the root, folders included (each takes an inode).
    pub files: u64,
    /// Regular files only: "no output" means none of these.
    pub regular_files: u64,
    pub deepest: u32,
    pub too_many_files: bool,
    pub too_deep: bool,
}

/// Measures `root` without following links, stopping once `files` or depth passes its limit.
/// Iterative, and it never descends past `max_depth`, so a hostile tree cannot exhaust the
/// stack or keep the walk busy for long. Bytes are counted in full (the tmpfs or the judge's
/// byte check bounds them).
pub fn scan_output(root: &Path, limits: &OutputLimits) -> OutputScan {
    let mut scan = OutputScan::default();
    let mut stack = vec![(root.to_path_buf(), 0u32)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let depth = depth + 1;
            scan.files += 1;
            scan.deepest = scan.deepest.max(depth);
            if scan.files > limits.max_files {
                scan.too_many_files = true;
                return scan;
            }
            if depth > limits.max_depth {
                scan.too_deep = true;
                return scan;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push((entry.path(), depth)),
                Ok(t) if t.is_file() => {
                    scan.regular_files += 1;
                    scan.bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
                }
                _ => {}
            }
        }
    }
    scan
}

/// Why an output could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum OutputArchiveError {
    /// Something the participant's program left in `/output`: theirs to fix.
    #[error("{0}")]
    Participant(String),
    /// The host failed (disk full, I/O error): the platform's fault.
    #[error("{0}")]
    Platform(String),
}

/// Whether an I/O error on a path inside the output is the output's doing (a name too long, a
/// file nobody may read) rather than the host's.
fn participants_io_error(e: &io::Error) -> bool {
    const ENAMETOOLONG: i32 = 36;
    const ELOOP: i32 = 40;
    e.kind() == io::ErrorKind::PermissionDenied
        || e.kind() == io::ErrorKind::InvalidFilename
        || matches!(e.raw_os_error(), Some(ENAMETOOLONG | ELOOP))
}

/// Packs the folder `root` into a tar archive written to `dest`, returning its size. Only
/// regular files and folders may be in it: a link, fifo, socket or device is refused (an
/// archive must never point outside itself, nor block its reader), as is a path the host
/// cannot open or read; both are [`OutputArchiveError::Participant`]. Entries are written as they
/// are read, so memory stays constant whatever the output's size.
pub fn archive_to_file(root: &Path, dest: &Path) -> Result<u64, OutputArchiveError> {
    let platform = |e: io::Error| OutputArchiveError::Platform(format!("{}: {e}", dest.display()));
    let file = File::create(dest).map_err(platform)?;
    let mut builder = tar::Builder::new(BufWriter::new(file));
    builder.follow_symlinks(false);
    let describe = |rel: &Path, e: io::Error| {
        if participants_io_error(&e) {
            OutputArchiveError::Participant(format!("/output/{} cannot be read: {e}", rel.display()))
        } else {
            OutputArchiveError::Platform(format!("/output/{}: {e}", rel.display()))
        }
    };
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rel_dir = dir.strip_prefix(root).map(Path::to_path_buf).unwrap_or_default();
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| describe(&rel_dir, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| describe(&rel_dir, e))?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let rel = rel_dir.join(entry.file_name());
            let kind = entry.file_type().map_err(|e| describe(&rel, e))?;
            let result = if kind.is_dir() {
                stack.push(entry.path());
                builder.append_dir(&rel, entry.path())
            } else if kind.is_file() {
                File::open(entry.path()).and_then(|mut f| builder.append_file(&rel, &mut f))
            } else {
                let what = if kind.is_symlink() { "a link" } else { "not a regular file or folder" };
                return Err(OutputArchiveError::Participant(format!(
                    "/output/{} is {what}; /output may hold only regular files and folders",
                    rel.display()
                )));
            };
            result.map_err(|e| describe(&rel, e))?;
        }
    }
    let mut out = builder.into_inner().map_err(platform)?;
    io::Write::flush(&mut out).map_err(platform)?;
    let file = out.into_inner().map_err(|e| platform(e.into_error()))?;
    file.sync_all().map_err(platform)?;
    Ok(file.metadata().map_err(platform)?.len())
}

/// Why an output archive could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The archive is not a readable tar, or `dest` cannot be written.
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("archive entry '{}' leaves the folder", .0.display())]
    Escapes(PathBuf),
    #[error("archive entry '{}' is a {kind:?}, not a file or folder", path.display())]
    NotFileOrFolder { path: PathBuf, kind: tar::EntryType },
}

/// Unpacks an output archive into `dest`, refusing anything but regular files and folders and
/// any path that would leave `dest`.
pub fn extract_archive(bytes: &[u8], dest: &Path) -> Result<(), UnpackError> {
    std::fs::create_dir_all(dest)?;
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        if path.components().any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir)) {
            return Err(UnpackError::Escapes(path));
        }
        let kind = entry.header().entry_type();
        let target = dest.join(&path);
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
        } else if kind.is_file() {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut out = File::create(&target)?;
            io::copy(&mut entry, &mut out)?;
        } else {
            return Err(UnpackError::NotFileOrFolder { path, kind });
        }
    }
    Ok(())
}

/// Mounts a tmpfs of `size` bytes and `inodes` entries at `path`, writable by anyone (the
/// container's user), never executable, setuid or device-bearing. Fails without the right to
/// mount (not root on the host).
fn mount_tmpfs(path: &Path, size: u64, inodes: u64) -> rustix::io::Result<()> {
    use rustix::mount::{MountFlags, mount};
    let options = std::ffi::CString::new(format!("size={size},nr_inodes={inodes},mode=0777"))
        .map_err(|_| rustix::io::Errno::INVAL)?;
    mount("tmpfs", path, "tmpfs", MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC, options.as_c_str())
}

/// A host folder for one run's `/output`: a tmpfs capped in bytes and inodes when this process
/// may mount (root on the host), otherwise a plain folder measured after the run.
pub struct OutputDir {
    pub path: PathBuf,
    pub cap_bytes: u64,
    pub mounted: bool,
}

impl OutputDir {
    /// Creates `path` empty, writable by the container's user, with the default file limit.
    pub async fn create(path: PathBuf, cap_bytes: u64) -> Result<Self, SandboxError> {
        Self::create_limited(path, cap_bytes, crate::domain::challenge::DEFAULT_OUTPUT_MAX_FILES, true).await
    }

    /// Creates `path` empty, writable by the container's user; a tmpfs (when `tmpfs` and this
    /// process may mount) holds at most `max_files` entries (plus a little slack so the walk
    /// sees the limit was passed). Without `tmpfs`, a plain folder: for runs on other hosts,
    /// which see the folder through a shared filesystem but not a mount made here. `path` is
    /// new: a claimed [`super::RunFolder`]'s output (the claim clears what a crash left) or a
    /// fresh name.
    pub async fn create_limited(
        path: PathBuf,
        cap_bytes: u64,
        max_files: u64,
        tmpfs: bool,
    ) -> Result<Self, SandboxError> {
        // The folder, mount and mode calls share one blocking thread (one hop, not three).
        let made = tokio::task::spawn_blocking(move || -> std::io::Result<Self> {
            std::fs::create_dir_all(&path)?;
            // One page of slack so "exactly the cap" is not a false "too large".
            let size = cap_bytes + 4096;
            let inodes = max_files.saturating_add(INODE_SLACK);
            let mounted = tmpfs && mount_tmpfs(&path, size, inodes).is_ok();
            if !mounted {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))?;
            }
            Ok(Self { path, cap_bytes, mounted })
        });
        Ok(made.await.map_err(|e| SandboxError::Platform(format!("the output folder was not made: {e}")))??)
    }

    /// Unmounts and deletes the folder.
    pub async fn destroy(self) {
        let _ = tokio::task::spawn_blocking(move || {
            if self.mounted {
                let _ = rustix::mount::unmount(&self.path, rustix::mount::UnmountFlags::empty());
            }
            let _ = std::fs::remove_dir_all(&self.path);
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = tempfile::Builder::new().prefix(&format!("sandbox-{name}-")).tempdir().unwrap().keep();
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    const LIMITS: OutputLimits = OutputLimits { max_files: 20, max_depth: 4 };

    #[test]
    fn the_walk_counts_and_stops_at_the_limits() {
        let root = tmp("scan");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/p.csv"), b"12345").unwrap();
        let scan = scan_output(&root, &LIMITS);
        assert_eq!((scan.bytes, scan.files, scan.regular_files, scan.deepest), (5, 3, 1, 3));
        assert!(!scan.too_many_files && !scan.too_deep);

        std::fs::create_dir_all(root.join("a/b/c/d/e")).unwrap();
        assert!(scan_output(&root, &LIMITS).too_deep);
        std::fs::remove_dir_all(root.join("a/b/c")).unwrap();
        for i in 0..30 {
            std::fs::write(root.join(format!("f{i}")), b"").unwrap();
        }
        let scan = scan_output(&root, &LIMITS);
        assert!(scan.too_many_files);
        assert_eq!(scan.files, LIMITS.max_files + 1, "it stops at the first entry past the limit");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_archive_is_streamed_to_a_file_and_unpacks_the_same() {
        let root = tmp("pack");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.csv"), b"hi").unwrap();
        let dest = root.with_extension("tar");
        let size = archive_to_file(&root, &dest).unwrap();
        let bytes = std::fs::read(&dest).unwrap();
        assert_eq!(size, bytes.len() as u64);
        let out = tmp("unpack");
        extract_archive(&bytes, &out).unwrap();
        assert_eq!(std::fs::read(out.join("sub/a.csv")).unwrap(), b"hi");
        for d in [&root, &out] {
            let _ = std::fs::remove_dir_all(d);
        }
        let _ = std::fs::remove_file(&dest);
    }

    #[test]
    fn links_sockets_and_overlong_paths_are_the_participants_failure() {
        let root = tmp("odd");
        let dest = root.with_extension("tar");
        std::os::unix::fs::symlink("/etc/passwd", root.join("evil")).unwrap();
        let err = archive_to_file(&root, &dest).unwrap_err();
        assert!(matches!(&err, OutputArchiveError::Participant(r) if r.contains("/output/evil is a link")), "{err}");
        std::fs::remove_file(root.join("evil")).unwrap();

        let _socket = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
        let err = archive_to_file(&root, &dest).unwrap_err();
        assert!(matches!(&err, OutputArchiveError::Participant(r) if r.contains("not a regular file")), "{err}");
        std::fs::remove_file(root.join("sock")).unwrap();

        // A path longer than PATH_MAX, built one relative step at a time as a program can.
        let name = "d".repeat(250);
        let made = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "cd {} && for i in $(seq 18); do mkdir {name} && cd {name} || exit 1; done; echo x > f",
                root.display()
            ))
            .status()
            .unwrap();
        assert!(made.success());
        let err = archive_to_file(&root, &dest).unwrap_err();
        assert!(matches!(&err, OutputArchiveError::Participant(r) if r.contains("cannot be read")), "{err}");
        let _ = std::process::Command::new("rm").arg("-rf").arg(&root).status();
        let _ = std::fs::remove_file(&dest);
    }

    #[test]
    fn extraction_refuses_escapes_and_links() {
        let dir = tmp("extract");
        let mut link = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        link.append_link(&mut h, "evil", "/etc/passwd").unwrap();
        let e = extract_archive(&link.into_inner().unwrap(), &dir).unwrap_err().to_string();
        assert_eq!(e, "archive entry 'evil' is a Symlink, not a file or folder");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
