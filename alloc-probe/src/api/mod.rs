//! What programs call and install: [`Probe`](probe::Probe), the measurement functions, the
//! runtime of `#[track_allocs]`, (feature `criterion`) allocations as a criterion measurement, and (feature `testing`) the hooks of alloc-probe's own tests.

#[cfg(feature = "criterion")]
pub mod criterion;
pub(crate) mod measure;
pub mod private;
pub(crate) mod probe;
#[cfg(feature = "testing")]
pub mod testing;
pub(crate) mod track;
