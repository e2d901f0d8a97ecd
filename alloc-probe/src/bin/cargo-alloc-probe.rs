//! `cargo alloc-probe test|nextest|run|bench`: see `alloc_probe::cli::cargo`.

fn main() -> std::process::ExitCode {
    alloc_probe::cli::cargo::main()
}
