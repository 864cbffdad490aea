//! The weak participant: one hand-made feature and one threshold.

use crate::data::Split;

fn dark_fraction(split: &Split, i: usize) -> f32 {
    let n = split.side * split.side;
    split.pixels[i * n..(i + 1) * n].iter().filter(|p| **p < 0.55).count() as f32 / n as f32
}

pub fn train_and_predict(train: &Split, test: &Split) -> Vec<f32> {
    let features: Vec<(f32, u32)> = (0..train.ids.len()).map(|i| (dark_fraction(train, i), train.labels[i])).collect();
    // Try each observed value as the threshold, in both orientations; keep the most accurate.
    let mut best = (0.0f32, 1.0f32, 0usize);
    for &(t, _) in &features {
        for sign in [1.0f32, -1.0] {
            let correct = features.iter().filter(|(f, y)| ((sign * (f - t) > 0.0) as u32) == *y).count();
            if correct > best.2 {
                best = (t, sign, correct);
            }
        }
    }
    let (t, sign, _) = best;
    (0..test.ids.len()).map(|i| 1.0 / (1.0 + (-sign * (dark_fraction(test, i) - t) * 40.0).exp())).collect()
}
