use std::fs;
use std::time::{Duration, SystemTime};

use super::*;

fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, data) in files {
        let p = dir.path().join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    dir
}

const FILES: &[(&str, &[u8])] =
    &[("train/labels.csv", b"id,label\n1,20x\n"), ("train/a.png", b"\x89PNG a"), ("README.txt", b"patches")];

fn digest(root: &Path) -> TreeFingerprint {
    fingerprint(root, None, &mut |_| {}).unwrap().0.fingerprint
}

/// Sets a file's mtime, so a test can make an edit the cheap check cannot see.
fn set_mtime(path: &Path, to: SystemTime) {
    fs::File::options().write(true).open(path).unwrap().set_modified(to).unwrap();
}

#[test]
fn the_digest_is_the_documented_encoding_and_does_not_depend_on_where_or_in_which_order_files_were_written() {
    let a = tree(FILES);
    let mut reversed = FILES.to_vec();
    reversed.reverse();
    let b = tree(&reversed);
    let (fa, fb) = (digest(a.path()), digest(b.path()));
    assert_eq!(fa, fb);
    assert_eq!((fa.files, fa.bytes), (3, FILES.iter().map(|f| f.1.len() as u64).sum()));

    // Recomputed by hand from the module's documentation: sorted bytewise by full path
    // ("README.txt" < "train/a.png" < "train/labels.csv"), each record length-prefixed.
    let mut sorted = FILES.to_vec();
    sorted.sort_by_key(|f| f.0.as_bytes());
    let mut h = Sha256::new();
    h.update(b"darkroom-tree-v1\n");
    for (path, data) in sorted {
        h.update((path.len() as u64).to_be_bytes());
        h.update(path.as_bytes());
        h.update((data.len() as u64).to_be_bytes());
        h.update(Sha256::digest(data));
    }
    assert_eq!(fa.digest, hex::encode(h.finalize()));
}

#[test]
fn sorting_is_by_full_path_not_folder_by_folder() {
    // A walk sorted per folder visits "a/b" before "a.txt"; bytewise, '.' < '/'.
    let dir = tree(&[("a/b", b"1"), ("a.txt", b"2")]);
    let (m, _) = fingerprint(dir.path(), None, &mut |_| {}).unwrap();
    assert_eq!(m.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["a.txt", "a/b"]);
}

#[test]
fn a_changed_byte_an_added_a_removed_and_a_renamed_file_each_change_the_digest() {
    let dir = tree(FILES);
    let original = digest(dir.path());
    let root = dir.path();
    let mut seen = vec![original.clone()];
    let mut expect_new = |what: &str| {
        let now = digest(root);
        assert!(!seen.contains(&now), "{what} left the digest as before");
        seen.push(now);
    };
    fs::write(root.join("train/a.png"), b"\x89PNG b").unwrap();
    expect_new("a changed byte");
    fs::write(root.join("train/b.png"), b"").unwrap();
    expect_new("an added empty file");
    fs::remove_file(root.join("README.txt")).unwrap();
    expect_new("a removed file");
    fs::rename(root.join("train/b.png"), root.join("train/c.png")).unwrap();
    expect_new("a renamed file");
    // An empty folder holds no file, so it is not part of the data.
    fs::create_dir(root.join("empty")).unwrap();
    assert_eq!(&digest(root), seen.last().unwrap());
}

#[test]
fn links_and_fifos_are_refused_not_followed() {
    let dir = tree(FILES);
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("train/escape")).unwrap();
    let e = fingerprint(dir.path(), None, &mut |_| {}).unwrap_err();
    assert!(matches!(&e, FingerprintError::Link(p) if p == "train/escape"), "{e}");

    let dir = tree(FILES);
    let fifo = dir.path().join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let e = fingerprint(dir.path(), None, &mut |_| {}).unwrap_err();
    assert!(matches!(&e, FingerprintError::Special(p) if p == "pipe"), "{e}");
}

#[test]
fn progress_counts_up_to_the_bytes_it_reads() {
    let big = vec![7u8; BUFFER_BYTES * 2 + 5];
    let dir = tree(&[("big.bin", &big), ("small", b"x")]);
    let mut seen = Vec::new();
    fingerprint(dir.path(), None, &mut |p| seen.push(p)).unwrap();
    let last = *seen.last().unwrap();
    assert_eq!(
        last,
        Progress { files_done: 2, files_total: 2, bytes_done: big.len() as u64 + 1, bytes_total: big.len() as u64 + 1 }
    );
    assert!(seen.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done));
    assert!(seen.len() > 3, "progress is reported inside a large file: {seen:?}");
}

#[test]
fn the_cache_reads_only_files_whose_size_or_mtime_changed() {
    let dir = tree(FILES);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let (first, read) = cache.compute(dir.path(), false, &mut |_| {}).unwrap();
    assert_eq!(read, first.fingerprint.bytes);

    // Nothing changed: a stat walk, nothing read.
    let checked = cache.check(dir.path(), &first.fingerprint).unwrap();
    assert_eq!(checked, first);
    let (_, read) = cache.compute(dir.path(), false, &mut |_| {}).unwrap();
    assert_eq!(read, 0);

    // A touched file (new mtime, same bytes) is read again and found unchanged.
    let labels = dir.path().join("train/labels.csv");
    set_mtime(&labels, SystemTime::now() + Duration::from_secs(60));
    let (again, read) = cache.compute(dir.path(), false, &mut |_| {}).unwrap();
    assert_eq!(read, FILES[0].1.len() as u64);
    assert_eq!(again.fingerprint, first.fingerprint);

    // `full` reads everything whatever the cache says.
    let (_, read) = cache.compute(dir.path(), true, &mut |_| {}).unwrap();
    assert_eq!(read, first.fingerprint.bytes);
}

/// The documented limit of the cheap check: an edit that keeps the size and puts the mtime
/// back is not seen until a full computation.
#[test]
fn a_same_size_same_mtime_edit_escapes_the_cheap_check_but_not_a_full_computation() {
    let dir = tree(FILES);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let (applied, _) = cache.compute(dir.path(), false, &mut |_| {}).unwrap();
    let png = dir.path().join("train/a.png");
    let mtime = fs::metadata(&png).unwrap().modified().unwrap();
    fs::write(&png, b"\x89PNG X").unwrap();
    set_mtime(&png, mtime);
    assert!(cache.check(dir.path(), &applied.fingerprint).is_ok(), "the cheap check trusts size and mtime");
    let (full, _) = cache.compute(dir.path(), true, &mut |_| {}).unwrap();
    assert_ne!(full.fingerprint, applied.fingerprint);
}

#[test]
fn a_check_names_what_changed_against_the_data_as_applied_and_keeps_naming_it() {
    let dir = tree(FILES);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let (applied, _) = cache.compute(dir.path(), false, &mut |_| {}).unwrap();
    fs::write(dir.path().join("train/a.png"), b"\x89PNG changed").unwrap();
    fs::write(dir.path().join("extra.csv"), b"1").unwrap();
    fs::remove_file(dir.path().join("README.txt")).unwrap();
    for _ in 0..2 {
        let Err(CheckError::Changed(m)) = cache.check(dir.path(), &applied.fingerprint) else {
            panic!("a changed dataset passed the check")
        };
        let c = m.changes.as_ref().unwrap();
        assert_eq!(
            (c.changed.as_slice(), c.added.as_slice(), c.removed.as_slice()),
            (&["train/a.png".to_owned()][..], &["extra.csv".to_owned()][..], &["README.txt".to_owned()][..])
        );
        let text = m.to_string();
        assert!(
            text.contains("3 files differ: changed 'train/a.png', added 'extra.csv', removed 'README.txt'"),
            "{text}"
        );
        assert!(text.contains(&applied.fingerprint.digest), "{text}");
    }
    // Applying again takes the data as it is; the check passes.
    let (reapplied, _) = cache.compute(dir.path(), false, &mut |_| {}).unwrap();
    assert!(cache.check(dir.path(), &reapplied.fingerprint).is_ok());
}

#[test]
fn a_host_without_a_record_of_the_applied_data_says_it_cannot_name_the_files() {
    let dir = tree(FILES);
    let applied = digest(dir.path());
    fs::write(dir.path().join("README.txt"), b"other").unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let Err(CheckError::Changed(m)) = cache.check(dir.path(), &applied) else { panic!("passed") };
    assert_eq!(m.changes, None);
    assert!(m.to_string().contains("cannot name the files"), "{m}");
}

#[test]
fn a_long_list_of_changes_names_the_first_and_counts_the_rest() {
    let c = Changes { added: (0..25).map(|i| format!("f{i:02}")).collect(), ..Changes::default() };
    let text = c.to_string();
    assert!(text.starts_with("added 'f00', added 'f01'"), "{text}");
    assert!(text.ends_with("added 'f09' and 15 more"), "{text}");
}

#[test]
fn a_corrupt_cache_file_is_ignored() {
    let dir = tree(FILES);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let (m, _) = cache.compute(dir.path(), false, &mut |_| {}).unwrap();
    for f in fs::read_dir(cache_dir.path()).unwrap() {
        fs::write(f.unwrap().path(), b"{not json").unwrap();
    }
    let (again, read) = cache.compute(dir.path(), false, &mut |_| {}).unwrap();
    assert_eq!((again, read), (m.clone(), m.fingerprint.bytes));
}
