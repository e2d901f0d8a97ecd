//! The deep workload of `bench/benches/deep.rs`: real code with deep stacks and many distinct ones.
//!
//! `bench-deep-<allocator> syn FILE...` parses each file with `syn::parse_file` (the corpus is
//! the Rust source of this workspace's dependencies, listed by the driver), as a proc macro or
//! a linter would. `bench-deep-<allocator> boxes DEPTH PAIRS` allocates and frees a `Box`
//! `PAIRS` times at a recursion depth of `DEPTH` frames: the cost of one allocation by depth.
//!
//! Prints the work's wall time in nanoseconds on the first line (reading the files excluded),
//! then `checksum N`.

use std::hint::black_box;
use std::time::Instant;

/// Parses every file; returns the items found, as a checksum.
fn parse_all(sources: &[String]) -> u64 {
    let mut items = 0u64;
    for src in sources {
        if let Ok(file) = syn::parse_file(src) {
            items += file.items.len() as u64;
        }
    }
    items
}

/// `pairs` Box allocations and frees at `depth` frames below the caller.
#[inline(never)]
fn boxes_at(depth: u32, pairs: u64) -> u64 {
    if depth > 1 {
        // Not a tail call: the frame stays on the stack.
        return black_box(boxes_at(depth - 1, pairs)) + 1;
    }
    let mut sum = 0u64;
    for i in 0..pairs {
        let b = black_box(Box::new(i));
        sum = sum.wrapping_add(*b);
    }
    sum
}

/// The `main` of every `bench-deep-*` binary. `after` runs once the work is timed (the probe's
/// binary makes its report there when asked); its output follows the checksum.
pub fn deep_main(after: impl FnOnce()) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (ns, sum) = match args.first().map(String::as_str) {
        Some("syn") => {
            let sources: Vec<String> = args[1..]
                .iter()
                .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}")))
                .collect();
            let start = Instant::now();
            let sum = parse_all(&sources);
            (start.elapsed().as_nanos(), sum)
        }
        Some("boxes") => {
            let num = |i: usize| -> u64 {
                args.get(i)
                    .and_then(|a| a.parse().ok())
                    .expect("usage: boxes DEPTH PAIRS")
            };
            let (depth, pairs) = (num(1) as u32, num(2));
            let start = Instant::now();
            let sum = boxes_at(depth, pairs);
            (start.elapsed().as_nanos(), sum)
        }
        _ => panic!("usage: bench-deep-* syn FILE... | boxes DEPTH PAIRS"),
    };
    println!("{ns}");
    println!("checksum {sum}");
    after();
}
