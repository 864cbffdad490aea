//! A dataset's flat file listing (`darkroom_api::DatasetListing`, up to thousands of paths) as
//! a tree of folders, each with how many files it holds and their size, all levels below
//! included. Pure, so the server and the hydrated page build the same tree; the challenge page
//! draws it with `<details>`, which opens and closes without scripts.

use std::collections::BTreeMap;

use darkroom_api::DatasetFile;

/// A folder: its files and subfolders by name (sorted), and totals over everything below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folder {
    /// The folder's path from the dataset's root, with a trailing `/` (empty for the root).
    pub path: String,
    pub folders: BTreeMap<String, Folder>,
    /// File name → size in bytes.
    pub files: BTreeMap<String, u64>,
    /// Files in this folder and every folder below it.
    pub file_count: u64,
    /// Their total size in bytes.
    pub total_bytes: u64,
}

/// The tree of `files` (paths with `/` between folders; empty segments, as in `a//b` or a
/// leading `/`, are skipped).
pub fn build(files: &[DatasetFile]) -> Folder {
    let mut root = Folder::default();
    for f in files {
        let parts: Vec<&str> = f.path.split('/').filter(|p| !p.is_empty()).collect();
        let Some((name, dirs)) = parts.split_last() else { continue };
        let mut here = &mut root;
        here.file_count += 1;
        here.total_bytes += f.size_bytes;
        for dir in dirs {
            let path = format!("{}{dir}/", here.path);
            here = here.folders.entry((*dir).to_owned()).or_insert_with(|| Folder { path, ..Folder::default() });
            here.file_count += 1;
            here.total_bytes += f.size_bytes;
        }
        here.files.insert((*name).to_owned(), f.size_bytes);
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size_bytes: u64) -> DatasetFile {
        DatasetFile { path: path.into(), size_bytes }
    }

    #[test]
    fn folders_count_and_size_everything_below_them() {
        let tree = build(&[
            file("README.txt", 10),
            file("train/labels.csv", 100),
            file("train/images/a.png", 1000),
            file("train/images/b.png", 2000),
            file("test/images/c.png", 500),
        ]);
        assert_eq!((tree.file_count, tree.total_bytes), (5, 3610));
        assert_eq!(tree.files.keys().collect::<Vec<_>>(), ["README.txt"]);
        assert_eq!(tree.folders.keys().collect::<Vec<_>>(), ["test", "train"]);
        let train = &tree.folders["train"];
        assert_eq!((train.file_count, train.total_bytes, train.path.as_str()), (3, 3100, "train/"));
        let images = &train.folders["images"];
        assert_eq!((images.file_count, images.total_bytes, images.path.as_str()), (2, 3000, "train/images/"));
        assert_eq!(images.files["b.png"], 2000);
        assert_eq!(tree.folders["test"].folders["images"].file_count, 1);
    }

    #[test]
    fn two_thousand_files_make_a_few_folders() {
        let files: Vec<DatasetFile> =
            (0..2000).map(|i| file(&format!("{}/{i:04}.png", if i % 2 == 0 { "even" } else { "odd" }), 3)).collect();
        let tree = build(&files);
        assert_eq!(tree.folders.len(), 2);
        assert!(tree.files.is_empty());
        assert_eq!((tree.folders["odd"].file_count, tree.folders["odd"].total_bytes), (1000, 3000));
    }

    #[test]
    fn empty_segments_are_skipped_and_nothing_is_an_empty_tree() {
        let tree = build(&[file("/a//b.csv", 4), file("", 9)]);
        assert_eq!((tree.file_count, tree.folders["a"].files["b.csv"]), (1, 4));
        assert_eq!(build(&[]), Folder::default());
    }
}
