//! Allocations per iteration as a criterion [`Measurement`] (feature `criterion`), so that
//! `cargo bench` shows allocs/iter beside time, as Go's `-benchmem` does.
//!
//! ```no_run
//! use alloc_probe::criterion::Allocations;
//! use criterion::{criterion_group, criterion_main, Criterion};
//!
//! #[global_allocator]
//! static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();
//!
//! fn parse(c: &mut Criterion<Allocations>) {
//!     c.bench_function("parse", |b| b.iter(|| "1,2,3".split(',').collect::<Vec<_>>()));
//! }
//!
//! criterion_group! {
//!     name = allocs;
//!     config = Criterion::default().with_measurement(Allocations);
//!     targets = parse
//! }
//! criterion_main!(allocs);
//! ```
//!
//! Counts are the benchmark thread's own, exact in every mode: criterion runs the routine on
//! the thread that measures it, and other threads' allocations (a pool the routine hands work
//! to) are not included.

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::Throughput;

use super::measure::ensure_installed;
use crate::counters::Counts;
use crate::thread;

/// Allocation events (allocs plus reallocs) per iteration: Go's `allocs/op`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allocations;

/// Bytes allocated per iteration, each realloc's new size included: Go's `B/op`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllocatedBytes;

/// This thread's cumulative counts.
fn counts() -> Counts {
    ensure_installed();
    let slot = thread::slot().expect(
        "alloc-probe: criterion measured in a thread-local destructor after this thread's \
         counters were released",
    );
    slot.tally().counts()
}

/// A measurement of one of this thread's cumulative figures, shown in `unit`.
macro_rules! measurement {
    ($name:ident, $figure:expr, $unit:expr) => {
        impl Measurement for $name {
            type Intermediate = u64;
            type Value = u64;

            fn start(&self) -> u64 {
                $figure(counts())
            }

            fn end(&self, start: u64) -> u64 {
                $figure(counts()) - start
            }

            fn add(&self, a: &u64, b: &u64) -> u64 {
                a + b
            }

            fn zero(&self) -> u64 {
                0
            }

            fn to_f64(&self, value: &u64) -> f64 {
                *value as f64
            }

            fn formatter(&self) -> &dyn ValueFormatter {
                &$unit
            }
        }
    };
}

measurement!(Allocations, |c: Counts| c.allocs + c.reallocs, ALLOCS);
measurement!(AllocatedBytes, |c: Counts| c.bytes_allocated, BYTES);

/// Counts are shown as they are, without scaling (`14.2 allocs`, `598 B`), and per unit of
/// throughput: per input byte, input bit or element.
struct Unit([&'static str; 4]);

const ALLOCS: Unit = Unit([
    "allocs",
    "allocs/input byte",
    "allocs/input bit",
    "allocs/element",
]);
const BYTES: Unit = Unit(["B", "B/input byte", "B/input bit", "B/element"]);

impl ValueFormatter for Unit {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        self.0[0]
    }

    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let (n, unit) = match *t {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => (n, self.0[1]),
            Throughput::Bits(n) => (n, self.0[2]),
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => {
                (n, self.0[3])
            }
        };
        for v in values {
            *v /= n.max(1) as f64;
        }
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        self.0[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_divides_per_element() {
        let mut v = [10.0, 20.0];
        let unit = ALLOCS.scale_throughputs(10.0, &Throughput::Elements(10), &mut v);
        assert_eq!((unit, v), ("allocs/element", [1.0, 2.0]));
        let mut v = [64.0];
        let unit = BYTES.scale_throughputs(64.0, &Throughput::Bytes(32), &mut v);
        assert_eq!((unit, v), ("B/input byte", [2.0]));
    }
}
