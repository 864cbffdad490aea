//! `hostile MODE`: a participant that misbehaves in one way per mode, so the tests can show the
//! sandbox contains it. No dependencies, so the static image stays tiny.
//!
//! | mode | what it tries |
//! |---|---|
//! | `ok` | behaves: writes `/output/predictions.csv` and exits 0 |
//! | `egress` | reaches anything over the network; exits 0 only if it succeeded |
//! | `write-data` | writes into the read-only `/data` and the root filesystem |
//! | `fork-bomb` | spawns itself without end |
//! | `memory-hog` | allocates and touches memory without end |
//! | `child-oom` | runs `memory-hog` as a child, which the OOM killer ends; then writes predictions and exits 0 (1 if the child was not killed) |
//! | `infinite-loop` | spins forever |
//! | `huge-output` | writes far past the output cap |
//! | `stdout-flood` | prints as fast as it can, forever |
//! | `fake-score` | writes its own `/output/score.json` claiming a perfect score |
//! | `fail` | prints a few lines and exits 3 |
//! | `no-output` | exits 0 without writing anything |
//! | `root` | reports its uid in `/output/uid.txt`; exits 1 if it is 0 (its image says `USER 0:0`) |
//! | `volume` | fills its image's `VOLUME /scratch`; exits 0 only if it wrote past 256 MiB |
//! | `many-files` | creates 100,000 files in `/output` |
//! | `deep` | writes a file 40 folders deep in `/output` |
//! | `unreadable` | leaves a socket and a mode-000 file in `/output` beside its predictions |
//! | `slow` | behaves as `ok`, after sleeping 8 s: a run still going when its runner stops |
//! | `noisy` | a nondeterministic participant: a random `p40x` for every test patch in `/data/test/images`, seeded from the clock rather than `DARKROOM_SEED`, so no two runs agree |
//! | `slow-score` | an evaluation image: sleeps 3 s, then writes a `score.json` (accuracy and roc_auc 0.5) |
//! | `copy-score` | an evaluation image: copies `score.json` and `cases.csv` (when there) from the ground truth's `eval-output/` to `/output`, so a test chooses what the evaluation writes |

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    match mode.as_str() {
        "ok" => predictions(),
        "egress" => egress(),
        "write-data" => write_data(),
        "fork-bomb" => fork_bomb(),
        "memory-hog" => memory_hog(),
        "child-oom" => child_oom(),
        "infinite-loop" => loop {
            std::hint::spin_loop();
        },
        "huge-output" => huge_output(),
        "stdout-flood" => stdout_flood(),
        "fake-score" => {
            std::fs::write("/output/score.json", br#"{"accuracy": 1.0, "roc_auc": 1.0}"#).expect("write");
            predictions();
        }
        "fail" => {
            for i in 1..=3 {
                println!("step {i} of 3");
            }
            eprintln!("something broke in the participant's code");
            std::process::exit(3);
        }
        "no-output" => println!("done, but wrote nothing"),
        "root" => root(),
        "volume" => volume(),
        "many-files" => many_files(),
        "deep" => {
            let dir: std::path::PathBuf = std::iter::once("/output").chain(std::iter::repeat_n("d", 40)).collect();
            std::fs::create_dir_all(&dir).expect("deep folders");
            std::fs::write(dir.join("predictions.csv"), "id,p40x\n").expect("deep file");
            println!("wrote 40 folders deep");
        }
        "unreadable" => unreadable(),
        "slow" => {
            println!("thinking for {} s", SLOW.as_secs());
            std::thread::sleep(SLOW);
            predictions();
        }
        "noisy" => noisy(),
        "slow-score" => {
            std::thread::sleep(SLOW_SCORE);
            std::fs::write("/output/score.json", br#"{"accuracy": 0.5, "roc_auc": 0.5}"#).expect("write score");
            println!("scored");
        }
        "copy-score" => {
            for name in ["score.json", "cases.csv"] {
                if let Ok(bytes) = std::fs::read(format!("/input/ground-truth/eval-output/{name}")) {
                    std::fs::write(format!("/output/{name}"), bytes).expect("write the chosen output");
                }
            }
            println!("copied");
        }
        other => {
            eprintln!("unknown mode '{other}'");
            std::process::exit(64);
        }
    }
}

/// How long `slow` runs and `slow-score` evaluates.
const SLOW: Duration = Duration::from_secs(8);
const SLOW_SCORE: Duration = Duration::from_secs(3);

fn noisy() {
    use std::hash::{BuildHasher, Hasher};
    // std's hasher keys are random per process: a source of noise without a crate.
    let mut state = std::collections::hash_map::RandomState::new().build_hasher();
    state.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    let mut x = state.finish() | 1;
    let mut names: Vec<String> = std::fs::read_dir("/data/test/images")
        .expect("the dataset's test patches")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".pgm").map(str::to_owned))
        .collect();
    names.sort();
    let mut csv = String::from("id,p40x\n");
    for id in names {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        csv.push_str(&format!("{id},{:.6}\n", (x >> 11) as f64 / (1u64 << 53) as f64));
    }
    std::fs::write("/output/predictions.csv", csv).expect("write predictions");
    println!("guessed");
}

fn predictions() {
    std::fs::write("/output/predictions.csv", "id,p40x\n").expect("write predictions");
    println!("wrote predictions");
}

/// Without a network there is only the loopback interface and no route. Connection attempts
/// stay inside 127.0.0.0/8 (this machine's rule: never aim traffic elsewhere): the host's NATS
/// port answers there only if the container shares the host's network.
fn egress() {
    let interfaces: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let has_route = routes.lines().skip(1).any(|l| !l.trim().is_empty());
    println!("interfaces: {interfaces:?}; routes: {has_route}");
    let targets: [SocketAddr; 2] = ["127.0.0.1:4222".parse().unwrap(), "127.0.0.1:8080".parse().unwrap()];
    for t in targets {
        if TcpStream::connect_timeout(&t, Duration::from_millis(500)).is_ok() {
            println!("reached {t}");
            predictions();
            std::process::exit(0);
        }
    }
    if interfaces.iter().any(|i| i != "lo") || has_route {
        println!("a network interface or route exists");
        predictions();
        std::process::exit(0);
    }
    eprintln!("no network reachable");
    std::process::exit(1);
}

fn write_data() {
    let mut escaped = false;
    for path in ["/data/stolen.txt", "/planted.txt", "/etc/planted"] {
        match std::fs::write(path, "x") {
            Ok(()) => {
                println!("wrote {path}");
                escaped = true;
            }
            Err(e) => eprintln!("cannot write {path}: {e}"),
        }
    }
    if escaped {
        predictions();
        std::process::exit(0);
    }
    std::process::exit(1);
}

/// This binary, to run another mode of it as a child.
fn this_program() -> std::path::PathBuf {
    std::env::current_exe().unwrap_or_else(|_| "/hostile".into())
}

fn fork_bomb() {
    let me = this_program();
    let mut children = Vec::new();
    loop {
        match std::process::Command::new(&me).arg("fork-bomb").spawn() {
            Ok(c) => children.push(c),
            Err(e) => {
                eprintln!("spawn failed after {}: {e}", children.len());
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn memory_hog() {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 16 << 20]);
        println!("holding {} MiB", hoard.len() * 16);
    }
}

/// A program that survives its worker's OOM kill: the run is its own verdict (exit 0), not the
/// child's.
fn child_oom() {
    use std::os::unix::process::ExitStatusExt;
    let status =
        std::process::Command::new(this_program()).arg("memory-hog").stdout(std::process::Stdio::null()).status();
    println!("the worker ended: {status:?}");
    if status.ok().and_then(|s| s.signal()) != Some(9) {
        std::process::exit(1);
    }
    predictions();
}

fn huge_output() {
    let mut f = std::fs::File::create("/output/predictions.csv").expect("create");
    let block = vec![b'x'; 1 << 20];
    let mut written = 0usize;
    loop {
        if let Err(e) = f.write_all(&block) {
            eprintln!("write failed after {} MiB: {e}", written >> 20);
            std::process::exit(1);
        }
        written += block.len();
    }
}

fn stdout_flood() {
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut i: u64 = 0;
    loop {
        let _ = writeln!(out, "flood line {i} ..................................................");
        i += 1;
    }
}

/// The uid from `/proc/self/status` (no libc in this binary).
fn root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid =
        status.lines().find_map(|l| l.strip_prefix("Uid:")).map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
    let uid = uid.unwrap_or_default();
    println!("running as uid {uid}");
    std::fs::write("/output/uid.txt", &uid).expect("write uid");
    predictions();
    if uid.split(' ').any(|u| u == "0") {
        std::process::exit(1);
    }
}

fn volume() {
    let mut f = match std::fs::File::create("/scratch/fill") {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot write /scratch: {e}");
            std::process::exit(1);
        }
    };
    let block = vec![b'x'; 1 << 20];
    for mib in 0..256 {
        if let Err(e) = f.write_all(&block) {
            eprintln!("/scratch full after {mib} MiB: {e}");
            std::process::exit(1);
        }
    }
    println!("wrote 256 MiB into /scratch");
    predictions();
}

fn many_files() {
    let mut failed = 0u64;
    for i in 0..100_000 {
        if std::fs::write(format!("/output/f{i}"), b"").is_err() {
            failed += 1;
        }
    }
    println!("created {} of 100000 files", 100_000 - failed);
    predictions();
}

fn unreadable() {
    predictions();
    let _socket = std::os::unix::net::UnixListener::bind("/output/socket").expect("bind a socket");
    std::fs::write("/output/secret", b"x").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions("/output/secret", std::fs::Permissions::from_mode(0o000)).expect("chmod");
    println!("left a socket and a mode-000 file");
}
