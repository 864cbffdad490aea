//! `darkroom-bindgen INPUT.wasm OUT_DIR`: what `wasm-bindgen --target web --no-typescript
//! --out-name darkroom` does for the pages' hydration wasm (scripts/build-frontend.sh), built
//! from the workspace's own lockfile so the glue always matches the library the pages link.
//!
//! Every failure prints one line, `error: …`, and exits non-zero.

use std::path::PathBuf;

use anyhow::{Context, bail};
use wasm_bindgen_cli_support::Bindgen;

/// The stem of every file written: `darkroom.js` and `darkroom_bg.wasm`, the names the server's
/// pages load (`frontend.site_root`/pkg).
const OUT_NAME: &str = "darkroom";

fn main() {
    if let Err(e) = run() {
        // wasm-bindgen's parse errors pretty-print byte arrays over many lines.
        let message = format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ");
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [input, out_dir] = args.as_slice() else {
        bail!("usage: darkroom-bindgen INPUT.wasm OUT_DIR (got {} arguments, want 2)", args.len());
    };
    if !input.is_file() {
        bail!("{} is not a file: build the pages' wasm first (scripts/build-frontend.sh)", input.display());
    }
    Bindgen::new()
        .input_path(input)
        .web(true)?
        .typescript(false)
        // As the CLI does by default: keep the fallback `new URL('darkroom_bg.wasm', …)` so
        // the page's `init()` finds the wasm beside the script without an argument.
        .omit_default_module_path(false)
        .out_name(OUT_NAME)
        .generate(out_dir)
        .with_context(|| format!("generating the pages' JS glue from {} into {}", input.display(), out_dir.display()))
}
