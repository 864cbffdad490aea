//! Which host folders hidden data may be mounted from. A run request names the dataset and
//! ground-truth folders as host paths, and whoever can publish on the bus could name `/` or
//! `/etc`; the runner and the evaluator mount only what [`DataRoots::confine`] resolves (`..`
//! and symbolic links followed, on this host) to a folder under one of the configured roots,
//! and they mount the resolved path, so a link swapped after the check changes nothing.

use std::path::{Path, PathBuf};

/// A path refused, and how to fix it (for the organizer's failure detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {what} path '{path}' {problem}, and only folders under {setting} ({roots}) may be mounted; move the data \
     under one of them and apply the challenge again, or add its folder to {setting}"
)]
pub struct OutsideDataRoots {
    pub what: &'static str,
    pub path: String,
    pub problem: String,
    pub setting: &'static str,
    pub roots: String,
}

/// The configured roots of one service, and the setting that names them (for errors).
#[derive(Debug, Clone)]
pub struct DataRoots {
    roots: Vec<PathBuf>,
    setting: &'static str,
}

impl DataRoots {
    pub fn new(roots: &[PathBuf], setting: &'static str) -> Self {
        Self { roots: roots.to_vec(), setting }
    }

    /// The real path of `path` when it is a folder under a root; `what` names it in the error
    /// ("dataset", "ground truth").
    pub fn confine(&self, what: &'static str, path: &str) -> Result<PathBuf, OutsideDataRoots> {
        let refuse = |problem: String| OutsideDataRoots {
            what,
            path: path.to_owned(),
            problem,
            setting: self.setting,
            roots: self.roots.iter().map(|r| format!("'{}'", r.display())).collect::<Vec<_>>().join(", "),
        };
        if !Path::new(path).is_absolute() {
            return Err(refuse("is not absolute".into()));
        }
        let real = std::fs::canonicalize(path).map_err(|e| refuse(format!("cannot be resolved on this host ({e})")))?;
        if !real.is_dir() {
            return Err(refuse(format!("resolves to '{}', which is not a folder", real.display())));
        }
        // A root that does not resolve (not created yet) holds nothing.
        let inside =
            self.roots.iter().filter_map(|root| std::fs::canonicalize(root).ok()).any(|root| real.starts_with(root));
        if inside {
            Ok(real)
        } else if real == Path::new(path) {
            Err(refuse("is outside them".into()))
        } else {
            Err(refuse(format!("resolves to '{}'", real.display())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_folders_under_a_root_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join("challenge/dataset")).unwrap();
        std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
        std::fs::write(root.join("challenge/file.csv"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("challenge/escape")).unwrap();
        std::os::unix::fs::symlink(root.join("challenge/dataset"), root.join("inside-link")).unwrap();
        let roots = DataRoots::new(&[root.clone(), PathBuf::from("/nonexistent-root")], "runner.data_roots");
        let real_root = std::fs::canonicalize(&root).unwrap();
        let p = |rel: &str| format!("{}/{rel}", root.display());

        assert_eq!(roots.confine("dataset", &p("challenge/dataset")).unwrap(), real_root.join("challenge/dataset"));
        assert_eq!(roots.confine("dataset", &p("inside-link")).unwrap(), real_root.join("challenge/dataset"));
        assert_eq!(
            roots.confine("dataset", &p("challenge/../challenge/dataset")).unwrap(),
            real_root.join("challenge/dataset")
        );
        for (path, says) in [
            ("/".to_owned(), "is outside them"),
            ("/etc".to_owned(), "is outside them"),
            (p("../elsewhere"), "resolves to"),
            (p("challenge/escape"), "resolves to '/etc'"),
            (p("challenge/file.csv"), "not a folder"),
            (p("missing"), "cannot be resolved"),
            ("relative/data".to_owned(), "not absolute"),
        ] {
            let e = roots.confine("dataset", &path).unwrap_err().to_string();
            assert!(
                e.contains(&format!("'{path}'")) && e.contains(says) && e.contains("runner.data_roots"),
                "{path}: {e}"
            );
        }
    }
}
