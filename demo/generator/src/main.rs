//! `darkroom-demo-data`: writes the demo dataset; see the library for the layout.

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Generate the demo dataset (train with labels, test with hidden ground truth)")]
struct Args {
    /// Output folder; `dataset/` and `ground-truth/` are created inside it.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 1600)]
    train: usize,
    #[arg(long, default_value_t = 400)]
    test: usize,
    /// Side of a square patch in pixels.
    #[arg(long, default_value_t = 64)]
    size: usize,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    darkroom_demo_data::generate(&a.out, a.seed, a.train, a.test, a.size)?;
    println!("wrote {} train and {} test patches to {}", a.train, a.test, a.out.display());
    Ok(())
}
