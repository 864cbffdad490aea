//! `darkroom`: the command line for organizers (challenges) and participants (register, submit,
//! follow, leaderboard). It speaks the submissions service's HTTP API only.
//!
//! Every failure prints one line, `error: …`, and exits non-zero.

mod api;
mod commands;
mod logs;
mod output;
mod rerun;
mod rescore;
mod verify;

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = commands::Cli::parse();
    if let Err(e) = commands::run(cli).await {
        // Errors quote the server's messages: as much the server's text as any table.
        eprintln!("error: {}", output::terminal_safe(&format!("{e:#}")));
        std::process::exit(1);
    }
}
