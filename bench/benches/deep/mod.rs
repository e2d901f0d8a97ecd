//! The deep workload of `bench/benches/deep.rs`: real code with deep stacks and many distinct ones.
//!
//! `bench-deep-<allocator> syn FILE...` parses each file with `syn::parse_file` (the corpus is
//! the Rust source of this workspace's dependencies, listed by the driver), as a proc macro or
//! a linter would. `bench-deep-<allocator> boxes DEPTH PAIRS` allocates and frees a `Box`
//! `PAIRS` times at a recursion depth of `DEPTH` frames: the cost of one allocation by depth.
//! Three more real workloads show where `syn` stands among programs (see [`json`], [`regex`],
//! [`tasks`]): `json FILE`, `regex FILE...`, `tasks`.
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

/// Reads `text` into a `serde_json::Value` and writes it back, 20 times: a web service's
/// request and response bodies. Returns the bytes written.
pub fn json(text: &str) -> u64 {
    let mut n = 0;
    for _ in 0..20 {
        let v: serde_json::Value = serde_json::from_str(text).expect("JSON");
        n += serde_json::to_string(&v).expect("JSON").len() as u64;
    }
    n
}

/// Compiles a linter's patterns (each in four variants, so that compiling is a real share of
/// the work) and collects every match's groups as strings over the sources. Returns the
/// matched bytes and groups.
pub fn regex(sources: &[String]) -> u64 {
    const PATTERNS: &[&str] = &[
        r"fn\s+(\w+)\s*\(",
        r"\b(pub|crate)\s+struct\s+([A-Z]\w*)",
        r"impl<[^>]*>\s+\w+",
        r"//[^\n]*TODO",
        r"(?i)error|warn(ing)?",
        r"\d+\.\d+\.\d+",
        r"[a-z_]+::[a-z_]+::\w+",
        r"#\[derive\(([^)]*)\)\]",
        r"(?m)^\s*use\s+[\w:{}, *]+;",
        r"0x[0-9a-fA-F]+",
        r"\bunsafe\s*\{",
        r"[\p{L}]{12,}",
        r"(\w+)\s*=>\s*(\w+)",
    ];
    let mut n = 0;
    for variant in 0..4 {
        for p in PATTERNS {
            let re =
                ::regex::Regex::new(&format!("{p}{}", "|xyzzy".repeat(variant))).expect("pattern");
            for src in sources {
                for caps in re.captures_iter(src) {
                    let groups: Vec<String> = caps
                        .iter()
                        .flatten()
                        .map(|m| m.as_str().to_string())
                        .collect();
                    n += groups.iter().map(|g| g.len() as u64).sum::<u64>();
                }
            }
        }
    }
    n
}

/// A server's shape on tokio's multi-thread runtime (two workers): rounds of 2,000 spawned
/// tasks, each building strings and sending them over a channel to the main task. Returns the
/// bytes received.
pub fn tasks() -> u64 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut total = 0;
        for _ in 0..20 {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<String>>(64);
            let handles: Vec<_> = (0..2000u64)
                .map(|i| {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let v = (0..20).map(|j| format!("task {i} item {j}")).collect();
                        let _ = tx.send(v).await;
                    })
                })
                .collect();
            drop(tx);
            while let Some(v) = rx.recv().await {
                total += v.iter().map(|s| s.len() as u64).sum::<u64>();
            }
            for h in handles {
                h.await.expect("task");
            }
        }
        total
    })
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
    const USAGE: &str =
        "usage: bench-deep-* syn FILE... | json FILE | regex FILE... | tasks | boxes DEPTH PAIRS";
    let (workload, rest) = args.split_first().expect(USAGE);
    // Files are read before the clock starts; `boxes` takes numbers instead.
    let sources: Vec<String> = match workload.as_str() {
        "boxes" => Vec::new(),
        _ => rest
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}")))
            .collect(),
    };
    let num = |i: usize| -> u64 { rest.get(i).and_then(|a| a.parse().ok()).expect(USAGE) };
    let start = Instant::now();
    let sum = match workload.as_str() {
        "syn" => parse_all(&sources),
        "json" => json(sources.first().expect(USAGE)),
        "regex" => regex(&sources),
        "tasks" => tasks(),
        "boxes" => boxes_at(num(0) as u32, num(1)),
        _ => panic!("{USAGE}"),
    };
    let ns = start.elapsed().as_nanos();
    println!("{ns}");
    println!("checksum {sum}");
    after();
}
