//! The `alloc-probe` command (feature `cli`): reads the JSON reports that profiled programs
//! write and answers the usual questions about them: what allocates most (`top`), why each
//! line allocates (`explain`), what a change cost (`diff`, a CI gate), the whole test suite at
//! once (`merge`), and where in the call tree (`flamegraph`). [`cargo`] is the `cargo
//! alloc-probe` subcommand, which runs a whole test suite and checks a baseline.
//!
//! A thin front end over [`Report`](crate::Report), as inferno's binaries are: this file
//! parses the arguments, `input` reads the files; each subcommand is a module whose function
//! takes options and reports and returns its output, so it is unit-tested without a process.
//! The binary's `main` calls [`main`].
//!
//! Exit codes: 0 success; 1 `diff` found a function past `--max-increase`; 2 bad usage, an
//! unreadable, oversized or inconsistent report, counts that overflow when merged, or an
//! unwritable output, always as one line on stderr naming the file.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::report::MAX_INPUT;
use clap::{Parser, Subcommand};
use input::{read, Size};

mod baseline;
pub mod cargo;
mod diff;
mod explain;
mod flamegraph;
mod input;
mod merge;
mod table;
#[cfg(test)]
mod testing;
mod top;

/// Reads the JSON reports of alloc-probe, the heap profiler: where a program allocates, why,
/// and what changed between two runs.
#[derive(Parser)]
#[command(name = "alloc-probe", version)]
struct Cli {
    /// The largest report read, in bytes or with a unit (512M, 2GiB): a larger file or stream
    /// is refused rather than read until memory runs out.
    #[arg(long, global = true, value_name = "SIZE", default_value_t = Size(MAX_INPUT))]
    max_input_size: Size,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The sites and tracked functions that allocate most.
    Top {
        /// A JSON report.
        file: PathBuf,
        /// What to rank by.
        #[arg(long, value_enum, default_value_t)]
        by: top::By,
        /// Rows per table (0: all).
        #[arg(short = 'n', long, value_name = "N", default_value_t = 20)]
        rows: usize,
        /// Only this test's sites: its name as libtest prints it, or "binary name".
        #[arg(long, value_name = "NAME")]
        test: Option<String>,
    },
    /// Each allocating line with its class, reason and source expression, like Go's
    /// `-gcflags=-m`.
    Explain {
        /// A JSON report.
        file: PathBuf,
        /// Only this tracked function: its name or a `::`-suffix of its path.
        #[arg(long, value_name = "NAME")]
        function: Option<String>,
    },
    /// What changed between two reports, per tracked function and per site. Exits 1 when a
    /// function's allocs/call or bytes/call grew past --max-increase.
    Diff {
        /// The report to compare against.
        base: PathBuf,
        /// The report of the changed program.
        new: PathBuf,
        /// The allowed growth per call: relative (`5%`) or absolute (`0`: any growth fails).
        #[arg(long, value_name = "LIMIT", default_value = "5%")]
        max_increase: diff::Threshold,
        /// Aligned text, or Markdown tables for a pull request's comment.
        #[arg(long, value_enum, default_value_t)]
        format: table::Style,
    },
    /// Merges the reports of several processes into one.
    Merge {
        /// JSON reports.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where to write the merged JSON report.
        #[arg(short, long, value_name = "OUT")]
        output: PathBuf,
    },
    /// Draws the report's stacks as a flame graph SVG.
    Flamegraph {
        /// A JSON report.
        file: PathBuf,
        /// Where to write the SVG.
        #[arg(short, long, value_name = "OUT.svg")]
        output: PathBuf,
        /// What the widths measure.
        #[arg(long, value_enum, default_value_t)]
        cost: flamegraph::Cost,
    },
}

/// Runs the `alloc-probe` command on this process's arguments, and returns its exit code.
pub fn main() -> ExitCode {
    one_line_panics();
    let cli = Cli::parse();
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(code)) => code,
        Ok(Err(message)) => {
            eprintln!("alloc-probe: {}", flatten(&message));
            ExitCode::from(2)
        }
        // The hook has printed the line.
        Err(_) => ExitCode::from(2),
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let limit = cli.max_input_size;
    match cli.command {
        Command::Top {
            file,
            by,
            rows,
            test,
        } => {
            let r = read(&file, limit)?;
            let text = top::run(&top::Options { by, rows, test }, &r)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            print(&text)?;
        }
        Command::Explain { file, function } => {
            let r = read(&file, limit)?;
            let text = explain::run(&explain::Options { function }, &r)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            print(&text)?;
        }
        Command::Diff {
            base,
            new,
            max_increase,
            format,
        } => {
            let (base, new) = (read(&base, limit)?, read(&new, limit)?);
            let opts = diff::Options {
                max_increase,
                style: format,
            };
            let outcome = diff::run(&opts, &base, &new);
            print(&outcome.text)?;
            if !outcome.failures.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Merge { files, output } => {
            let reports = files
                .iter()
                .map(|f| read(f, limit))
                .collect::<Result<Vec<_>, _>>()?;
            print(&merge::run(&files, &reports, &output)?)?;
        }
        Command::Flamegraph { file, output, cost } => {
            flamegraph::run(&read(&file, limit)?, cost, &output)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout; a closed pipe (`alloc-probe top r.json | head`) is not an error.
fn print(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("stdout: cannot write: {e}"))
        }
        _ => Ok(()),
    }
}

fn flatten(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A bug in alloc-probe still ends with one line and exit code 2, not a backtrace.
fn one_line_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown error");
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "alloc-probe: internal error{place}: {} (please report it)",
            flatten(message)
        );
    }));
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn arguments_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
