//! `predict`: a demo participant. Trains on `/data/train` and writes `/output/predictions.csv`
//! (`id,p40x`) for every patch in `/data/test`.
//!
//! - `--model cnn` (the baseline): two convolutions and a linear layer, trained with AdamW.
//! - `--model threshold` (the deliberately weak one): the fraction of dark pixels, split at the
//!   threshold that best separates the training set.

mod cnn;
mod data;
mod threshold;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, ValueEnum)]
enum Compute {
    Cpu,
    /// The first CUDA GPU; needs a build with `--features cuda` and a GPU in the container.
    Cuda,
}

#[derive(Clone, Copy, ValueEnum)]
enum Model {
    Cnn,
    Threshold,
}

#[derive(Parser)]
#[command(about = "Demo participant: train on /data/train, predict /data/test into /output")]
struct Args {
    #[arg(long, value_enum, default_value = "cnn")]
    model: Model,
    #[arg(long, default_value = "/data")]
    data: PathBuf,
    #[arg(long, default_value = "/output")]
    output: PathBuf,
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Seeds every random draw of training. Darkroom sets DARKROOM_SEED for each submission (the
    /// same for every attempt and re-run), so a run on the platform repeats bit for bit.
    #[arg(long, env = "DARKROOM_SEED", default_value_t = 42)]
    seed: u64,
    /// Where the CNN trains. The CPU's thread count comes from RAYON_NUM_THREADS, which
    /// Darkroom sets to the challenge's CPU limit.
    #[arg(long, value_enum, default_value = "cpu")]
    device: Compute,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let train = data::load_split(&args.data.join("train"), true).context("reading the training split")?;
    let test = data::load_split(&args.data.join("test"), false).context("reading the test split")?;
    println!("loaded {} training and {} test patches", train.ids.len(), test.ids.len());
    let started = std::time::Instant::now();
    let p40x = match args.model {
        Model::Cnn => {
            let device = match args.device {
                Compute::Cpu => candle_core::Device::Cpu,
                Compute::Cuda => candle_core::Device::new_cuda(0)
                    .context("no CUDA device: build with --features cuda and run with a GPU attached")?,
            };
            cnn::train_and_predict(&train, &test, args.epochs, args.seed, &device)?
        }
        Model::Threshold => threshold::train_and_predict(&train, &test),
    };
    // The benchmarks read this line to time the training itself, apart from the launch.
    println!("trained and predicted in {:.3} s", started.elapsed().as_secs_f64());
    let mut csv = String::from("id,p40x\n");
    for (id, p) in test.ids.iter().zip(&p40x) {
        csv.push_str(&format!("{id},{p:.6}\n"));
    }
    let path = args.output.join("predictions.csv");
    std::fs::write(&path, csv).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {} predictions to {}", p40x.len(), path.display());
    Ok(())
}
