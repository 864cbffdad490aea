//! What fingerprinting hidden data costs (issue 17), in MB/s of data read: a full pass over the
//! demo dataset (seed 42, 1,600 + 400 patches, as `scripts/demo.sh` generates it), a full pass
//! over a generated tree of 64 files of 1 MiB, and the check before each run on a tree that did
//! not change (a stat walk against the cached manifest: it reads nothing, so it is timed per
//! tree). Smoke mode (under `cargo test`): 20 patches and 4 files.
//!
//! Data read twice in a row comes from the page cache, so these are hashing rates, the best a first
//! apply can do; a cold read is bounded by the disk as well (see BENCHMARKS.md).
//!
//! A large tree is measured by hand, never in CI: `DARKROOM_FINGERPRINT_TREE=/some/folder cargo
//! bench -p darkroom-benches --bench fingerprint` also fingerprints that folder once, in full,
//! and prints its size, time and MB/s. `scripts/fingerprint-tree.sh` writes a 10 GB one.

use std::path::Path;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use darkroom_benches::pick;
use darkroom_core::fingerprint::{Cache, fingerprint};
use rand::RngCore;

/// `files` files of `size` bytes of random data (incompressible, as images are).
fn generated_tree(root: &Path, files: usize, size: usize) {
    let mut rng = rand::rng();
    let mut data = vec![0u8; size];
    for i in 0..files {
        rng.fill_bytes(&mut data);
        let dir = root.join(format!("part-{:02}", i % 16));
        std::fs::create_dir_all(&dir).expect("folder");
        std::fs::write(dir.join(format!("{i:05}.bin")), &data).expect("file");
    }
}

fn full_pass(c: &mut Criterion) {
    let work = tempfile::tempdir().expect("temp dir");
    let demo = work.path().join("demo");
    let (train, test) = pick((1600, 400), (16, 4));
    darkroom_demo_data::generate(&demo, 42, train, test, 64).expect("demo dataset");
    let tree = work.path().join("tree");
    // 64 MiB in 64 files of 1 MiB (smoke: 4 of them).
    generated_tree(&tree, pick(64, 4), 1 << 20);

    let mut group = c.benchmark_group("fingerprint/full");
    group.sample_size(10);
    for (name, root) in [("demo_dataset", demo.join("dataset")), ("tree_of_1MiB_files", tree.clone())] {
        let (m, _) = fingerprint(&root, None, &mut |_| {}).expect("fingerprinted");
        group.throughput(Throughput::Bytes(m.fingerprint.bytes));
        group.bench_function(format!("{name}_{}_files", m.fingerprint.files), |b| {
            b.iter(|| fingerprint(&root, None, &mut |_| {}).expect("fingerprinted"))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("fingerprint/check_unchanged");
    let cache = Cache::new(work.path().join("cache"));
    for (name, root) in [("demo_dataset", demo.join("dataset")), ("tree_of_1MiB_files", tree)] {
        let (m, _) = cache.compute(&root, true, &mut |_| {}).expect("fingerprinted");
        group.bench_function(format!("{name}_{}_files", m.fingerprint.files), |b| {
            b.iter(|| cache.check(&root, &m.fingerprint).expect("unchanged"))
        });
    }
    group.finish();

    if let Ok(large) = std::env::var("DARKROOM_FINGERPRINT_TREE") {
        let started = Instant::now();
        let (m, read) = fingerprint(Path::new(&large), None, &mut |_| {}).expect("fingerprinted");
        let secs = started.elapsed().as_secs_f64();
        println!(
            "fingerprint of {large}: {} files, {:.2} GB in {secs:.1} s: {:.0} MB/s (sha256:{})",
            m.fingerprint.files,
            read as f64 / 1e9,
            read as f64 / 1e6 / secs,
            m.fingerprint.digest
        );
        let started = Instant::now();
        let cache = Cache::new(work.path().join("large-cache"));
        cache.compute(Path::new(&large), true, &mut |_| {}).expect("fingerprinted");
        let full = started.elapsed().as_secs_f64();
        let started = Instant::now();
        cache.check(Path::new(&large), &m.fingerprint).expect("unchanged");
        println!(
            "  again, storing the manifest: {full:.1} s; the check before a run: {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
    }
}

criterion_group!(benches, full_pass);
criterion_main!(benches);
