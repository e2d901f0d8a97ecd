//! Allocations per iteration beside time, as Go's `-benchmem` prints them: criterion with
//! `alloc_probe::criterion`'s measurements (`cargo bench -p alloc-probe-bench --bench allocs`).

use alloc_probe::criterion::{AllocatedBytes, Allocations};
use criterion::measurement::Measurement;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

const SOURCE: &str = "fn add(a: u32, b: u32) -> u32 { let s = a + b; s }";

/// The same routines under any measurement, in a group named after it (criterion compares
/// each benchmark with its last run under the same name).
fn routines<M: Measurement>(c: &mut Criterion<M>, figure: &str) {
    let mut g = c.benchmark_group(figure);
    g.bench_function("format", |b| b.iter(|| format!("{}-{}", black_box(7), "x")));
    for n in [1usize, 100] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("push", n), &n, |b, &n| {
            b.iter(|| (0..n).collect::<Vec<usize>>())
        });
    }
    g.throughput(Throughput::Bytes(SOURCE.len() as u64));
    g.bench_function("syn_parse", |b| {
        b.iter(|| syn::parse_str::<syn::ItemFn>(black_box(SOURCE)).unwrap())
    });
    g.finish();
}

fn time(c: &mut Criterion) {
    routines(c, "time");
}

fn allocs(c: &mut Criterion<Allocations>) {
    routines(c, "allocs");
}

fn bytes(c: &mut Criterion<AllocatedBytes>) {
    routines(c, "bytes");
}

criterion_group!(by_time, time);
criterion_group! {
    name = by_allocs;
    config = Criterion::default().with_measurement(Allocations);
    targets = allocs
}
criterion_group! {
    name = by_bytes;
    config = Criterion::default().with_measurement(AllocatedBytes);
    targets = bytes
}
criterion_main!(by_time, by_allocs, by_bytes);
