//! A seedable generator of histopathology-like patches for the demo.
//!
//! Each 64×64 grayscale patch (binary PGM) shows elliptical dark "nuclei" on a noisy stained
//! background. Class `40x` has fewer, larger nuclei than class `20x`, with overlapping ranges
//! so the task is learnable but not trivial. Output:
//!
//! ```text
//! <out>/dataset/train/images/<id>.pgm   <out>/dataset/train/labels.csv   (id,label)
//! <out>/dataset/test/images/<id>.pgm
//! <out>/ground-truth/test_labels.csv    (id,label) — the hidden labels
//! ```
//! The same seed always gives the same bytes.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Writes `train` labelled and `test` unlabelled patches of `size`×`size` pixels under `out`.
pub fn generate(out: &Path, seed: u64, train: usize, test: usize, size: usize) -> anyhow::Result<()> {
    if !(16..=1024).contains(&size) {
        bail!("--size {size} is not between 16 and 1024");
    }
    if train == 0 || test == 0 {
        bail!("--train and --test must both be at least 1");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dataset = out.join("dataset");
    let train_labels = write_split(&mut rng, &dataset.join("train"), "tr", train, size)?;
    write_labels(&dataset.join("train/labels.csv"), &train_labels)?;
    let test_labels = write_split(&mut rng, &dataset.join("test"), "te", test, size)?;
    fs::create_dir_all(out.join("ground-truth"))?;
    write_labels(&out.join("ground-truth/test_labels.csv"), &test_labels)?;
    Ok(())
}

fn write_split(
    rng: &mut ChaCha8Rng,
    dir: &Path,
    prefix: &str,
    n: usize,
    size: usize,
) -> anyhow::Result<Vec<(String, bool)>> {
    let images = dir.join("images");
    fs::create_dir_all(&images).with_context(|| format!("cannot create {}", images.display()))?;
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let is_40x = rng.random_bool(0.5);
        let id = format!("{prefix}{i:05}");
        let pixels = patch(rng, size, is_40x);
        let mut f = fs::File::create(images.join(format!("{id}.pgm")))?;
        write!(f, "P5\n{size} {size}\n255\n")?;
        f.write_all(&pixels)?;
        labels.push((id, is_40x));
    }
    Ok(labels)
}

fn write_labels(path: &Path, labels: &[(String, bool)]) -> anyhow::Result<()> {
    let mut f = fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(f, "id,label")?;
    for (id, is_40x) in labels {
        writeln!(f, "{id},{}", if *is_40x { "40x" } else { "20x" })?;
    }
    Ok(())
}

/// One patch: background stain with noise, then nuclei drawn as filled rotated ellipses.
fn patch(rng: &mut ChaCha8Rng, size: usize, is_40x: bool) -> Vec<u8> {
    let scale = size as f32 / 64.0;
    let background: f32 = rng.random_range(170.0..220.0);
    let mut img: Vec<f32> = (0..size * size).map(|_| background + rng.random_range(-18.0..18.0)).collect();
    let (count, radius) =
        if is_40x { (rng.random_range(3..=8), 5.0..10.0) } else { (rng.random_range(7..=16), 2.5..6.5) };
    for _ in 0..count {
        let cx = rng.random_range(0.0..size as f32);
        let cy = rng.random_range(0.0..size as f32);
        let a = rng.random_range(radius.clone()) * scale;
        let b = a * rng.random_range(0.6..1.0);
        let theta: f32 = rng.random_range(0.0..std::f32::consts::PI);
        let darkness: f32 = rng.random_range(60.0..120.0);
        let (sin, cos) = theta.sin_cos();
        let reach = a.ceil() as i64 + 1;
        for y in (cy as i64 - reach).max(0)..(cy as i64 + reach).min(size as i64) {
            for x in (cx as i64 - reach).max(0)..(cx as i64 + reach).min(size as i64) {
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                let u = (dx * cos + dy * sin) / a;
                let v = (-dx * sin + dy * cos) / b;
                let d = u * u + v * v;
                if d <= 1.0 {
                    // Darker in the middle, like a stained nucleus.
                    img[y as usize * size + x as usize] -= darkness * (1.0 - 0.4 * d);
                }
            }
        }
    }
    img.into_iter().map(|p| p.clamp(0.0, 255.0) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_patch_and_classes_differ_in_darkness() {
        let a = patch(&mut ChaCha8Rng::seed_from_u64(7), 64, true);
        let b = patch(&mut ChaCha8Rng::seed_from_u64(7), 64, true);
        assert_eq!(a, b);
        // Over many patches, 40x patches hold more nucleus area (darker pixels) on average.
        let dark = |is_40x: bool| {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            (0..200).map(|_| patch(&mut rng, 64, is_40x).iter().filter(|p| **p < 140).count()).sum::<usize>()
        };
        assert_ne!(dark(true), dark(false));
    }
}
