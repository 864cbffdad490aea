use super::fixture::{self, Entry};
use super::*;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn write(dir: &tempfile::TempDir, entries: &[Entry]) -> std::path::PathBuf {
    let path = dir.path().join("in.tar");
    std::fs::write(&path, fixture::tar(entries)).unwrap();
    path
}

fn valid() -> Vec<Entry> {
    fixture::docker_save(&[fixture::layer(&[("predict", b"#!/bin/true\n")])], &["/predict"], &["team/model:1"])
}

fn refusal(entries: &[Entry]) -> String {
    let d = dir();
    match inspect(&write(&d, entries)) {
        Err(ArchiveError::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The names and the manifest of a rebuilt archive.
fn read_back(path: &Path) -> (Vec<String>, serde_json::Value) {
    let mut names = Vec::new();
    let mut manifest = serde_json::Value::Null;
    let mut a = tar::Archive::new(File::open(path).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let n = e.path().unwrap().display().to_string();
        if n == "manifest.json" {
            manifest = serde_json::from_reader(&mut e).unwrap();
        }
        names.push(n);
    }
    (names, manifest)
}

#[test]
fn a_valid_archive_is_rebuilt_with_only_our_tag_and_canonical_names() {
    let d = dir();
    let mut entries = valid();
    entries.push(Entry::file(
        "index.json",
        r#"{"schemaVersion":2,"manifests":[{"annotations":{"io.containerd.image.name":"darkroom-demo-eval:1"}}]}"#,
    ));
    entries.push(Entry::file("oci-layout", r#"{"imageLayoutVersion":"1.0.0"}"#));
    let src = write(&d, &entries);
    let plan = inspect(&src).unwrap();
    assert_eq!(plan.repo_tags, ["team/model:1"]);
    let dst = d.path().join("out.tar");
    let rebuilt = rebuild(&src, &plan, &dst, "darkroom-submission/x:1", 1 << 30).unwrap();
    assert_eq!(rebuilt.image_id, plan.image_id());
    let (names, manifest) = read_back(&dst);
    let config_name = format!("{}.json", &plan.image_id()["sha256:".len()..]);
    let layer_name = format!("{}/layer.tar", &plan.diff_ids[0]["sha256:".len()..]);
    assert_eq!(names, [config_name.clone(), layer_name.clone(), "manifest.json".to_owned()]);
    assert_eq!(
        manifest,
        serde_json::json!([{"Config": config_name, "RepoTags": ["darkroom-submission/x:1"], "Layers": [layer_name]}])
    );
}

#[test]
fn names_that_normalise_to_the_same_file_are_refused() {
    for dup in ["./manifest.json", ".//manifest.json", "manifest.json"] {
        let mut entries = valid();
        entries.push(Entry::file(dup, r#"[{"Config":"x","RepoTags":["darkroom-demo-eval:1"],"Layers":[]}]"#));
        let why = refusal(&entries);
        assert!(why.contains("name the same file 'manifest.json'"), "{dup}: {why}");
    }
}

#[test]
fn absolute_and_parent_names_links_and_devices_are_refused() {
    let mut abs = valid();
    abs.push(Entry::file("/etc/evil", "x"));
    assert!(refusal(&abs).contains("absolute"), "{}", refusal(&abs));
    let mut up = valid();
    up.push(Entry::file("a/../../evil", "x"));
    assert!(refusal(&up).contains("'..'"));
    for (kind, word) in [
        (tar::EntryType::Symlink, "link"),
        (tar::EntryType::Link, "link"),
        (tar::EntryType::Char, "device"),
        (tar::EntryType::Block, "device"),
        (tar::EntryType::Fifo, "device"),
    ] {
        let mut entries = valid();
        entries.push(Entry { name: "odd".into(), data: Vec::new(), kind });
        assert!(refusal(&entries).contains(word), "{kind:?}: {}", refusal(&entries));
    }
}

#[test]
fn two_images_missing_files_and_a_lying_config_name_are_refused() {
    let mut two = valid();
    let m = two.iter_mut().find(|e| e.name == "manifest.json").unwrap();
    let mut list: serde_json::Value = serde_json::from_slice(&m.data).unwrap();
    let first = list[0].clone();
    list.as_array_mut().unwrap().push(first);
    m.data = serde_json::to_vec(&list).unwrap();
    assert!(refusal(&two).contains("lists 2 images"));

    let mut index = valid();
    index.push(Entry::file("index.json", r#"{"manifests":[{},{}]}"#));
    assert!(refusal(&index).contains("index.json lists 2 images"));

    let missing: Vec<Entry> = valid().into_iter().filter(|e| e.name != "layer0/layer.tar").collect();
    assert!(refusal(&missing).contains("lacks"));

    let mut lying = valid();
    let config = lying.iter_mut().find(|e| e.name.ends_with(".json") && e.name != "manifest.json").unwrap();
    config.data.extend_from_slice(b" ");
    assert!(refusal(&lying).contains("not the one its name claims"));

    let mut unnamed = valid();
    let config = unnamed.iter_mut().find(|e| e.name.ends_with(".json") && e.name != "manifest.json").unwrap();
    let old = std::mem::replace(&mut config.name, "config.json".into());
    let m = unnamed.iter_mut().find(|e| e.name == "manifest.json").unwrap();
    m.data = String::from_utf8(m.data.clone()).unwrap().replace(&old, "config.json").into_bytes();
    assert!(refusal(&unnamed).contains("not named by its SHA-256"));
}

#[test]
fn a_layer_that_differs_from_its_diff_id_is_refused() {
    let d = dir();
    let mut entries = valid();
    entries.iter_mut().find(|e| e.name == "layer0/layer.tar").unwrap().data = fixture::layer(&[("other", b"x")]);
    let src = write(&d, &entries);
    let plan = inspect(&src).unwrap();
    let dst = d.path().join("out.tar");
    match rebuild(&src, &plan, &dst, "t:1", 1 << 30) {
        Err(ArchiveError::Refused(why)) => assert!(why.contains("diff_id"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(!dst.exists(), "a refused rebuild leaves nothing");
}

#[test]
fn compressed_layers_are_unpacked_and_checked() {
    let d = dir();
    let plain = fixture::layer(&[("predict", b"#!/bin/true\n")]);
    let src = write(&d, &fixture::with_compressed_layer(fixture::gzip(&plain), &plain));
    let plan = inspect(&src).unwrap();
    let dst = d.path().join("out.tar");
    let rebuilt = rebuild(&src, &plan, &dst, "t:1", 1 << 30).unwrap();
    assert_eq!(rebuilt.image_bytes, plain.len() as u64);
}

#[test]
fn a_decompression_bomb_stops_at_the_limit() {
    let d = dir();
    // 64 MiB of zeros in ~64 KiB; the limit is 16 MiB.
    let src = write(&d, &fixture::with_compressed_layer(fixture::gzip_zeros(64 << 20), b"x"));
    let plan = inspect(&src).unwrap();
    let dst = d.path().join("out.tar");
    match rebuild(&src, &plan, &dst, "t:1", 16 << 20) {
        Err(ArchiveError::TooLarge { limit, .. }) => assert_eq!(limit, 16 << 20),
        other => panic!("{other:?}"),
    }
    assert!(!dst.exists());
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1, "no spool file is left");
}

#[test]
fn a_zstd_bomb_stops_at_the_limit_and_xz_or_bzip2_layers_are_refused() {
    let d = dir();
    // 24 MiB of zeros in a few KiB; the limit is 8 MiB.
    let bomb = fixture::zstd_zeros(24 << 20);
    assert!(bomb.len() < 1 << 20, "a bomb: {} bytes", bomb.len());
    let src = write(&d, &fixture::with_compressed_layer(bomb, b"x"));
    let plan = inspect(&src).unwrap();
    let dst = d.path().join("out.tar");
    match rebuild(&src, &plan, &dst, "t:1", 8 << 20) {
        Err(ArchiveError::TooLarge { limit, .. }) => assert_eq!(limit, 8 << 20),
        other => panic!("{other:?}"),
    }
    assert!(!dst.exists());
    // Formats Darkroom does not decompress itself are refused by their magic bytes, never handed
    // to the engine to unpack.
    for (magic, format) in [(&[0xfd, b'7', b'z', b'X', b'Z', 0x00][..], "xz"), (&b"BZh91AY&SY"[..], "bzip2")] {
        let mut layer = magic.to_vec();
        layer.extend([0u8; 600]);
        let src = write(&d, &fixture::with_compressed_layer(layer, b"x"));
        let plan = inspect(&src).unwrap();
        match rebuild(&src, &plan, &d.path().join("o.tar"), "t:1", 1 << 30) {
            Err(ArchiveError::Refused(why)) => assert!(why.contains("bzip2- or xz-compressed"), "{format}: {why}"),
            other => panic!("{format}: {other:?}"),
        }
    }
}

#[test]
fn an_uncompressed_layer_over_the_limit_is_refused_before_copying() {
    let d = dir();
    let src = write(&d, &valid());
    let plan = inspect(&src).unwrap();
    assert!(matches!(rebuild(&src, &plan, &d.path().join("o.tar"), "t:1", 100), Err(ArchiveError::TooLarge { .. })));
}

#[test]
fn a_layer_compressed_twice_is_refused() {
    // The engine would gunzip the inner stream with no limit before checking anything.
    let d = dir();
    let plain = fixture::layer(&[("predict", b"#!/bin/true\n")]);
    let once = fixture::gzip(&plain);
    let src = write(&d, &fixture::with_compressed_layer(fixture::gzip(&once), &once));
    let plan = inspect(&src).unwrap();
    match rebuild(&src, &plan, &d.path().join("o.tar"), "t:1", 1 << 30) {
        Err(ArchiveError::Refused(why)) => assert!(why.contains("compressed twice"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Nor may a plain layer be anything but a tar stream.
    let not_tar = b"just some bytes that are no tar".repeat(40);
    let src = write(&d, &fixture::docker_save(&[not_tar], &["/x"], &["t:1"]));
    let plan = inspect(&src).unwrap();
    assert!(
        matches!(rebuild(&src, &plan, &d.path().join("o.tar"), "t:1", 1 << 30), Err(ArchiveError::Refused(w)) if w.contains("not a tar stream"))
    );
}

#[test]
fn a_layer_listed_again_counts_again() {
    let d = dir();
    let layer = fixture::layer(&[("big", &[7u8; 64 << 10])]);
    let src = write(&d, &fixture::docker_save(&[layer.clone(), layer.clone(), layer.clone()], &["/x"], &["t:1"]));
    let plan = inspect(&src).unwrap();
    let limit = layer.len() as u64 * 2;
    assert!(matches!(rebuild(&src, &plan, &d.path().join("o.tar"), "t:1", limit), Err(ArchiveError::TooLarge { .. })));
    let rebuilt = rebuild(&src, &plan, &d.path().join("o.tar"), "t:1", limit * 2).unwrap();
    assert_eq!(rebuilt.image_bytes, layer.len() as u64 * 3);
}

#[test]
fn oversized_metadata_entries_and_too_many_layers_are_refused_before_parsing() {
    let mut pax = valid();
    pax.insert(0, Entry { name: "PaxHeaders/x".into(), data: vec![b'a'; 128 << 10], kind: tar::EntryType::XHeader });
    assert!(refusal(&pax).contains("PAX metadata entry"), "{}", refusal(&pax));
    let layers: Vec<Vec<u8>> = (0..126).map(|i| fixture::layer(&[(&format!("f{i}"), b"x")])).collect();
    let many = fixture::docker_save(&layers, &["/x"], &["t:1"]);
    assert!(refusal(&many).contains("126 layers"), "{}", refusal(&many));
}
