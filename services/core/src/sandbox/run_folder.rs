//! A run's working folder on the host: its `/output` (a tmpfs where the process may mount one)
//! and what is packed or unpacked beside it, claimed for as long as the process that made it
//! lives.
//!
//! The claim is an advisory lock (`flock`) on `<folder>.lock`, a sibling of the folder. The
//! kernel drops it when its holder exits, however it exits (SIGKILL included), so [`sweep`] can
//! tell a crashed run's leftovers (unclaimed) from a live run of another runner or evaluator
//! sharing the parent folder (claimed), and unmount and remove only the former. Without it, a
//! crash left the run's tmpfs mounted until reboot, holding whatever the participant wrote in
//! RAM: the retry is a new attempt, so a new folder, and nobody reused the old one's name.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::SandboxError;

/// The name of the run's `/output` inside its folder.
const OUTPUT: &str = "output";
const LOCK_SUFFIX: &str = ".lock";

/// A claimed working folder. [`RunFolder::remove`] unmounts and deletes it; a folder merely
/// dropped (a task aborted) stays on disk, unclaimed, for the next [`sweep`].
#[derive(Debug)]
pub struct RunFolder {
    path: PathBuf,
    lock: File,
}

impl RunFolder {
    /// Claims `path` and makes it an empty folder (a leftover of the same name, from a crash,
    /// is unmounted and removed first). Fails when a live process holds the claim.
    ///
    /// The lock, unmount and file calls run on one blocking thread: one hop instead of one per
    /// call, and an unmount or `flock` never stalls the runtime's workers.
    pub async fn claim(path: PathBuf) -> Result<Self, SandboxError> {
        tokio::task::spawn_blocking(move || Self::claim_blocking(path))
            .await
            .map_err(|e| SandboxError::Platform(format!("the run folder's claim did not finish: {e}")))?
    }

    fn claim_blocking(path: PathBuf) -> Result<Self, SandboxError> {
        let platform = |what: &str, e: io::Error| SandboxError::Platform(format!("{what} {}: {e}", path.display()));
        let lock = match take(&lock_path(&path)) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                return Err(SandboxError::Platform(format!(
                    "the run folder {} is in use by another live run; this one is not started",
                    path.display()
                )));
            }
            Err(e) => return Err(platform("cannot claim the run folder", e)),
        };
        clear(&path);
        std::fs::create_dir_all(&path).map_err(|e| platform("cannot create the run folder", e))?;
        Ok(Self { path, lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the run's `/output` goes (see [`super::OutputDir`]).
    pub fn output(&self) -> PathBuf {
        self.path.join(OUTPUT)
    }

    /// Unmounts the output, deletes the folder, then gives up the claim (on one blocking
    /// thread, as [`RunFolder::claim`]).
    pub async fn remove(self) {
        let _ = tokio::task::spawn_blocking(move || {
            clear(&self.path);
            // Unlinked while still held, so a sweep that opened the old file sees it replaced.
            let _ = std::fs::remove_file(lock_path(&self.path));
            drop(self.lock);
        })
        .await;
    }
}

/// Unmounts and removes every unclaimed run folder in `parent` (the leftovers of runs whose
/// process died), logging and returning each. Folders a live process holds are left alone.
pub async fn sweep(parent: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(mut entries) = tokio::fs::read_dir(parent).await else { return removed };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        let Some(folder) = name.to_str().and_then(|n| n.strip_suffix(LOCK_SUFFIX)) else { continue };
        let folder = parent.join(folder);
        match take(&entry.path()) {
            Ok(Some(lock)) => {
                RunFolder { path: folder.clone(), lock }.remove().await;
                tracing::warn!(folder = %folder.display(), "removed the folder (and output mount) of a run whose process died");
                removed.push(folder);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(folder = %folder.display(), error = %e, "cannot check a run folder's claim"),
        }
    }
    removed
}

fn lock_path(folder: &Path) -> PathBuf {
    let mut name = folder.file_name().unwrap_or_default().to_os_string();
    name.push(LOCK_SUFFIX);
    folder.with_file_name(name)
}

/// The output's tmpfs is detached even while busy (an orphaned container may still hold it);
/// then the folder goes.
fn clear(path: &Path) {
    let output = path.join(OUTPUT);
    let _ = rustix::mount::unmount(&output, rustix::mount::UnmountFlags::DETACH);
    let _ = std::fs::remove_dir_all(path);
}

/// Takes the lock on `path` without waiting: `None` while another open file holds it. A lock
/// taken on a file its holder had meanwhile unlinked claims nothing, so that case tries again
/// on the file now at `path`.
fn take(path: &Path) -> io::Result<Option<File>> {
    use rustix::fs::{FlockOperation, flock};
    loop {
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let held = file.metadata()?;
        match std::fs::metadata(path) {
            Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => return Ok(Some(file)),
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> PathBuf {
        tempfile::Builder::new().prefix("run-folders-").tempdir().unwrap().keep()
    }

    #[tokio::test]
    async fn a_claimed_folder_is_refused_to_a_second_claim_and_kept_by_the_sweep() {
        let parent = parent();
        let held = RunFolder::claim(parent.join("run-a")).await.unwrap();
        let err = RunFolder::claim(parent.join("run-a")).await.unwrap_err().to_string();
        assert!(err.contains("in use by another live run"), "{err}");
        assert!(sweep(&parent).await.is_empty());
        assert!(held.path().is_dir());
        held.remove().await;
        assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 0, "folder and lock file are gone");
        let _ = std::fs::remove_dir_all(&parent);
    }

    /// A holder killed with SIGKILL (here `flock(1)`, a process of its own) leaves its folder
    /// to the sweep; a live holder's folder stays.
    #[tokio::test]
    async fn the_sweep_removes_what_a_killed_process_left_and_nothing_held() {
        let parent = parent();
        let mut crashed = hold(&parent, "run-crashed").await;
        let mut live = hold(&parent, "run-live").await;
        crashed.kill().unwrap();
        crashed.wait().unwrap();
        assert_eq!(sweep(&parent).await, vec![parent.join("run-crashed")]);
        assert!(!parent.join("run-crashed").exists() && !lock_path(&parent.join("run-crashed")).exists());
        assert!(!mounted(&parent.join("run-crashed")), "the crashed run's tmpfs is unmounted");
        assert!(parent.join("run-live").join(OUTPUT).join("p.csv").exists(), "a live run is left alone");
        live.kill().unwrap();
        live.wait().unwrap();
        assert_eq!(sweep(&parent).await, vec![parent.join("run-live")]);
        let _ = std::fs::remove_dir_all(&parent);
    }

    /// A folder with a written output (a tmpfs when this process may mount), claimed by a
    /// `flock sleep` process.
    async fn hold(parent: &Path, name: &str) -> std::process::Child {
        let output = super::super::OutputDir::create(parent.join(name).join(OUTPUT), 1 << 20).await.unwrap();
        std::fs::write(output.path.join("p.csv"), b"x").unwrap();
        assert_eq!(mounted(&output.path), output.mounted);
        let lock = lock_path(&parent.join(name));
        let child = std::process::Command::new("flock").arg("-o").arg(&lock).args(["sleep", "60"]).spawn().unwrap();
        while take_free(&lock) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        child
    }

    fn mounted(path: &Path) -> bool {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        mounts.lines().any(|l| l.split(' ').nth(4).is_some_and(|p| Path::new(p).starts_with(path)))
    }

    /// Whether nobody holds the lock yet (taking and at once releasing it to find out).
    fn take_free(lock: &Path) -> bool {
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(lock).unwrap();
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok()
    }
}
