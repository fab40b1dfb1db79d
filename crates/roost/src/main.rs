//! The `roost` binary: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

// The API builds many small JSON objects per request; glibc's allocator spent a fifth of the
// time of a protected GET in malloc/free (perf), mimalloc much less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match roost::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return roost::cli::usage_exit(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roost: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(roost::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, no backtrace: these are user errors (bad flags, URLs, duplicates).
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("roost: {msg}");
            ExitCode::FAILURE
        }
    }
}
