//! `alloc-probe flamegraph`: an SVG of the report's stacks through
//! [`Report::write_flamegraph`].

use std::path::Path;

use crate::report::{FlameCost, Report};

/// What the flame widths measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Cost {
    /// Blocks allocated.
    #[default]
    Blocks,
    /// Bytes allocated.
    Bytes,
    /// Blocks that could have lived on the stack.
    Avoidable,
    /// Bytes still live at the report.
    Leaked,
}

impl From<Cost> for FlameCost {
    fn from(c: Cost) -> FlameCost {
        match c {
            Cost::Blocks => FlameCost::Blocks,
            Cost::Bytes => FlameCost::Bytes,
            Cost::Avoidable => FlameCost::StackAvoidable,
            Cost::Leaked => FlameCost::LeakedBytes,
        }
    }
}

/// Writes the SVG to `out`. Quiet on success, like inferno's `flamegraph`.
pub fn run(r: &Report, cost: Cost, out: &Path) -> Result<(), String> {
    r.write_flamegraph(out, cost.into())
        .map_err(|e| format!("{}: cannot write: {e}", out.display()))
}
