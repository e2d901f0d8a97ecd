//! The report reader and the `alloc-probe` binary against damaged files: byte flips,
//! truncations and arbitrary JSON values put into valid reports must give either a report or
//! one line naming the file, never a panic. The kept corpus is tests/data/corpus/: a few valid
//! reports (the seeds) and the corrupt files every release must keep refusing cleanly.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use alloc_probe::Report;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

#[path = "support/built.rs"]
mod built;

const VALID: [&str; 4] = [
    "valid-full.json",
    "valid-counts.json",
    "valid-no-functions.json",
    "valid-v2.json",
];

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/corpus")
        .join(name)
}

fn seeds() -> Vec<Vec<u8>> {
    VALID
        .iter()
        .map(|n| std::fs::read(corpus(n)).unwrap())
        .collect()
}

/// A fresh file name for each case, so parallel tests never share one.
fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_fuzz");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("case-{}.json", N.fetch_add(1, Relaxed)))
}

/// Modest and reproducible: a fixed seed, no files of failures left in the source tree.
/// `PROPTEST_CASES=5000` runs a longer search.
fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    )
}

/// Reads `bytes` as a report: a report, or one line that starts with the file's name.
fn read(bytes: &[u8]) -> Result<Option<PathBuf>, TestCaseError> {
    let path = scratch();
    std::fs::write(&path, bytes).unwrap();
    let result = std::panic::catch_unwind(|| Report::read_json(&path));
    let Ok(result) = result else {
        return Err(TestCaseError::fail("Report::read_json panicked"));
    };
    match result {
        Ok(_) => Ok(Some(path)),
        Err(e) => {
            let name = format!("{}: ", path.display());
            prop_assert!(e.starts_with(&name), "does not name the file: {e}");
            prop_assert!(!e.contains('\n'), "more than one line: {e}");
            prop_assert!(e.len() > name.len() + 5, "says nothing: {e}");
            std::fs::remove_file(&path).unwrap();
            Ok(None)
        }
    }
}

#[test]
fn byte_flips() {
    let seeds = seeds();
    let flips = prop::collection::vec((any::<usize>(), 1..=255u8), 1..8);
    runner(96)
        .run(&(0..seeds.len(), flips), |(seed, flips)| {
            let mut bytes = seeds[seed].clone();
            for (at, x) in flips {
                let n = bytes.len();
                bytes[at % n] ^= x;
            }
            read(&bytes).map(drop)
        })
        .unwrap();
}

#[test]
fn truncations() {
    let seeds = seeds();
    runner(96)
        .run(&(0..seeds.len(), any::<usize>()), |(seed, cut)| {
            let bytes = &seeds[seed];
            let cut = cut % bytes.len();
            let valid = read(&bytes[..cut])?.is_some();
            // Only the trailing newline cut off: still the whole report.
            let whole = bytes[..cut].trim_ascii_end().len() == bytes.trim_ascii_end().len();
            prop_assert_eq!(valid, whole, "cut at {}", cut);
            Ok(())
        })
        .unwrap();
}

/// Field names of the report, so that generated objects sometimes look like its parts.
const KEYS: [&str; 12] = [
    "schema",
    "version",
    "allocs",
    "bytes",
    "sites",
    "functions",
    "stacks",
    "frames",
    "site",
    "calls",
    "expr",
    "line",
];

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        Just(Value::from(0)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::collection::vec(any::<char>(), 0..12)
            .prop_map(|c| Value::String(c.into_iter().collect())),
        Just(Value::from(alloc_probe::REPORT_SCHEMA)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(&KEYS[..]), inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// Walks `path` (each step picks a member or an element, modulo their number) and there
/// replaces the value, or adds it under `key` when that lands on an object.
fn put(node: &mut Value, path: &[usize], new: Value, key: Option<&str>) {
    if let Some((&i, rest)) = path.split_first() {
        match node {
            Value::Object(m) if !m.is_empty() => {
                let k = m.keys().nth(i % m.len()).unwrap().clone();
                return put(m.get_mut(&k).unwrap(), rest, new, key);
            }
            Value::Array(a) if !a.is_empty() => {
                let n = a.len();
                return put(&mut a[i % n], rest, new, key);
            }
            _ => {}
        }
    }
    match (node, key) {
        (Value::Object(m), Some(k)) => {
            m.insert(k.to_string(), new);
        }
        (node, _) => *node = new,
    }
}

fn inserted() -> impl Strategy<Value = (usize, Vec<usize>, Value, Option<&'static str>)> {
    (
        0..VALID.len(),
        prop::collection::vec(any::<usize>(), 0..7),
        json(),
        prop::option::of(prop::sample::select(&KEYS[..])),
    )
}

#[test]
fn json_values_put_into_valid_reports() {
    let seeds: Vec<Value> = seeds()
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    runner(128)
        .run(&inserted(), |(seed, path, new, key)| {
            let mut v = seeds[seed].clone();
            put(&mut v, &path, new, key);
            read(&serde_json::to_vec_pretty(&v).unwrap()).map(drop)
        })
        .unwrap();
}

/// Exit code 2, exactly one line on stderr naming the file, no panic message.
fn refused_in_one_line(args: &[&str], file: &str) {
    let o = Command::new(built::binary()).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(file), "{args:?} does not name {file}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

#[test]
fn the_binary_refuses_the_corrupt_corpus() {
    let mut corrupt = 0;
    for entry in std::fs::read_dir(corpus("")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        let file = path.to_str().unwrap();
        if name == "README.md" {
            continue;
        }
        if VALID.contains(&name) {
            let o = Command::new(built::binary())
                .args(["top", file])
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            continue;
        }
        corrupt += 1;
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_fuzz/never.svg");
        let out = out.to_str().unwrap();
        refused_in_one_line(&["top", file], file);
        refused_in_one_line(&["explain", file], file);
        refused_in_one_line(&["diff", &corpus(VALID[0]).to_string_lossy(), file], file);
        refused_in_one_line(&["flamegraph", file, "-o", out], file);
    }
    assert!(corrupt >= 10, "the corpus lost its corrupt files");
}

/// Walks `path` to a value and gives it an odd value of the same JSON type, so the report
/// most likely still reads: a boundary number, any string, an emptied or doubled list.
fn oddify(node: &mut Value, path: &[usize], pick: u64, text: &str) {
    if let Some((&i, rest)) = path.split_first() {
        match node {
            Value::Object(m) if !m.is_empty() => {
                let k = m.keys().nth(i % m.len()).unwrap().clone();
                return oddify(m.get_mut(&k).unwrap(), rest, pick, text);
            }
            Value::Array(a) if !a.is_empty() => {
                let n = a.len();
                return oddify(&mut a[i % n], rest, pick, text);
            }
            _ => {}
        }
    }
    match node {
        Value::Number(n) if n.is_f64() => {
            *node = Value::from([0.0, 0.5, 1e300, f64::MIN_POSITIVE][(pick % 4) as usize]);
        }
        Value::Number(_) => {
            *node = Value::from([0, 1, u32::MAX as u64, u64::MAX, pick][(pick % 5) as usize])
        }
        Value::String(_) => *node = Value::from(text),
        Value::Bool(b) => *b = !*b,
        Value::Array(a) => match pick % 3 {
            0 => a.clear(),
            1 if !a.is_empty() => a.push(a[0].clone()),
            _ => {}
        },
        _ => {}
    }
}

/// Reports that read fine but hold odd values (huge counts, odd names, emptied lists) must not
/// crash any subcommand: exit 0, 1 or 2, at most one line on stderr, no panic.
#[test]
fn the_binary_survives_odd_but_valid_reports() {
    let seeds: Vec<Value> = seeds()
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    let base = corpus(VALID[0]);
    let base = base.to_str().unwrap();
    let text = prop::collection::vec(any::<char>(), 0..10).prop_map(String::from_iter);
    let edits = prop::collection::vec(
        (
            prop::collection::vec(any::<usize>(), 1..7),
            any::<u64>(),
            text,
        ),
        1..6,
    );
    let ran = AtomicUsize::new(0);
    runner(40)
        .run(&(0..VALID.len(), edits), |(seed, edits)| {
            let mut v = seeds[seed].clone();
            for (path, pick, text) in &edits {
                oddify(&mut v, path, *pick, text);
            }
            let Some(file) = read(&serde_json::to_vec_pretty(&v).unwrap())? else {
                return Ok(());
            };
            ran.fetch_add(1, Relaxed);
            let f = file.to_str().unwrap();
            let out = file.with_extension("out");
            let out = out.to_str().unwrap();
            for args in [
                &["top", f, "-n", "0"][..],
                &["explain", f],
                &["diff", base, f],
                &["merge", f, base, "-o", out],
                &["flamegraph", f, "-o", out],
            ] {
                let o = Command::new(built::binary()).args(args).output().unwrap();
                let err = String::from_utf8_lossy(&o.stderr);
                prop_assert!(matches!(o.status.code(), Some(0..=2)), "{args:?}: {err}");
                prop_assert!(err.lines().count() <= 1, "{args:?}: {err}");
                prop_assert!(!err.contains("panicked"), "{args:?}: {err}");
                // Counts near u64::MAX: merge refuses a sum past it in one line (exit 2);
                // nothing may fail as a bug does.
                prop_assert!(!err.contains("internal error"), "{args:?}: {err}");
            }
            Ok(())
        })
        .unwrap();
    let ran = ran.into_inner();
    assert!(ran > 10, "too few edited reports were still valid: {ran}");
}
