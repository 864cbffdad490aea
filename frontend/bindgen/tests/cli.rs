//! The tool as scripts/build-frontend.sh runs it: the two files the pages load, and one-line
//! errors for what it cannot use.

use std::path::Path;
use std::process::{Command, Output};

/// The smallest valid wasm module: the magic number and version, no sections.
const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

fn bindgen(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_darkroom-bindgen")).args(args).output().expect("the tool runs")
}

fn one_error_line(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn writes_the_script_and_the_wasm_the_pages_load() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wasm");
    std::fs::write(&input, EMPTY_MODULE).unwrap();
    let out_dir = dir.path().join("pkg");
    let out = bindgen(&[&input, &out_dir]);
    assert!(out.status.success(), "{out:?}");
    let js = std::fs::read_to_string(out_dir.join("darkroom.js")).unwrap();
    // The pages call `init()` without an argument: the script must find the wasm beside itself.
    assert!(js.contains("new URL('darkroom_bg.wasm', import.meta.url)"), "{js}");
    assert!(js.contains("__wbg_init as default"), "{js}");
    let wasm = std::fs::read(out_dir.join("darkroom_bg.wasm")).unwrap();
    assert!(wasm.starts_with(b"\0asm"));
    assert!(!out_dir.join("darkroom.d.ts").exists(), "no TypeScript declarations");
}

#[test]
fn refuses_a_file_that_is_not_wasm_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("page.wasm");
    std::fs::write(&input, "<html>not a module</html>").unwrap();
    let out_dir = dir.path().join("pkg");
    let stderr = one_error_line(&bindgen(&[&input, &out_dir]));
    assert!(stderr.contains("page.wasm") && stderr.contains("magic header"), "{stderr}");
    assert!(!out_dir.join("darkroom.js").exists(), "nothing written for bad input");
}

#[test]
fn names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("absent.wasm");
    let stderr = one_error_line(&bindgen(&[&absent, dir.path()]));
    assert!(stderr.contains("absent.wasm is not a file: build the pages' wasm first"), "{stderr}");
    let stderr = one_error_line(&bindgen(&[&absent]));
    assert!(stderr.contains("usage: darkroom-bindgen INPUT.wasm OUT_DIR (got 1 arguments, want 2)"), "{stderr}");
}
