//! `alloc-probe`: the command-line reader of alloc-probe's JSON reports (see `alloc_probe::cli`).

fn main() -> std::process::ExitCode {
    alloc_probe::cli::main()
}
