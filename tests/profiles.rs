//! The profile writers, read back by their real consumers: `go tool pprof` for pprof and
//! Valgrind's `dh_view.html` in headless Chromium for DHAT; plus the flame graph SVGs and
//! `Report::merge`.
//!
//! Every test reads the same report, made once after a deterministic workload, so the files
//! and the figures they are checked against cannot drift apart while the tests run in
//! parallel. `go` (Debian's `golang-go`), Valgrind (for `dh_view.html`) and `chromium` must be
//! installed: a test fails, naming the package, when one is missing.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))] // the oracles run on Linux x86-64

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

use std::collections::{BTreeMap, HashSet};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use alloc_probe::{FlameCost, Report, StackReport};
use serde_json::Value;

// ---- The workload: sites with known figures ----
//
// Each function returns the line of its allocations: `line!() - 1` on the line after one.

const AVOIDABLE: u64 = 5000;
const ESCAPING: u64 = 3000;
const LEAKED: u64 = 4;
const LEAKED_SIZE: usize = 16 << 10;
const TRACKED_CALLS: u64 = 10;

/// Boxes freed where they are made: stack-avoidable.
#[inline(never)]
fn avoidable_boxes(n: u64) -> u32 {
    let mut line = 0;
    for i in 0..n {
        let b = black_box(Box::new([i as u8; 32]));
        line = line!() - 1;
        drop(b);
    }
    line
}

/// Boxes returned to the caller, in a vector made for them: escaped.
#[inline(never)]
#[allow(clippy::vec_box)] // the boxes are the allocations under test
fn escaping_boxes(n: u64) -> (Vec<Box<u64>>, [u32; 2]) {
    let mut v = Vec::with_capacity(n as usize);
    let vec_line = line!() - 1;
    let mut box_line = 0;
    for i in 0..n {
        v.push(Box::new(i));
        box_line = line!() - 1;
    }
    (v, [vec_line, box_line])
}

/// Buffers never freed: live at the report.
#[inline(never)]
fn leaked_buffers(n: u64) -> u32 {
    let mut line = 0;
    for _ in 0..n {
        std::mem::forget(black_box(vec![7u8; LEAKED_SIZE]));
        line = line!() - 1;
    }
    line
}

/// A tracked function, so that the merge has a `FunctionReport` to merge.
#[alloc_probe::track_allocs]
#[inline(never)]
fn tracked_strings(n: u64) -> usize {
    (0..n).map(|i| black_box(i.to_string()).len()).sum()
}

/// The workload's functions (as the report names them) and the lines of their sites.
const FUNCTIONS: [&str; 3] = [
    "profiles::avoidable_boxes",
    "profiles::escaping_boxes",
    "profiles::leaked_buffers",
];

struct Workload {
    report: Report,
    /// `(function, line)` of each site of the workload.
    sites: Vec<(&'static str, u32)>,
}

/// The report after the workload, made once for all tests.
fn workload() -> &'static Workload {
    static ONCE: OnceLock<Workload> = OnceLock::new();
    ONCE.get_or_init(|| {
        let avoidable = avoidable_boxes(AVOIDABLE);
        let (boxes, [vec_line, box_line]) = escaping_boxes(ESCAPING);
        drop(black_box(boxes));
        let leaked = leaked_buffers(LEAKED);
        for _ in 0..TRACKED_CALLS {
            black_box(tracked_strings(3));
        }
        let report = alloc_probe::report();
        let sites = vec![
            (FUNCTIONS[0], avoidable),
            (FUNCTIONS[1], vec_line),
            (FUNCTIONS[1], box_line),
            (FUNCTIONS[2], leaked),
        ];
        Workload { report, sites }
    })
}

#[test]
fn workload_sites_are_as_expected() {
    let w = workload();
    let r = &w.report;
    let site = |line| r.site(file!(), line).expect("site in the report");
    let s = site(w.sites[0].1);
    assert_eq!(
        (s.allocs, s.bytes, s.stack_avoidable),
        (AVOIDABLE, AVOIDABLE * 32, AVOIDABLE)
    );
    let s = site(w.sites[2].1);
    assert_eq!(
        (s.allocs, s.bytes, s.escaped),
        (ESCAPING, ESCAPING * 8, ESCAPING)
    );
    let s = site(w.sites[3].1);
    let leaked_bytes = LEAKED * LEAKED_SIZE as u64;
    assert_eq!((s.leaked, s.leaked_bytes), (LEAKED, leaked_bytes));
}

// ---- Figures of the report, as the consumers should show them ----

/// One figure of a stack.
type Figure = fn(&StackReport) -> u64;

/// The six pprof sample types and each one's value for a stack.
const SAMPLE_TYPES: [(&str, Figure); 6] = [
    ("alloc_objects", |s| s.allocs),
    ("alloc_space", |s| s.bytes),
    ("inuse_objects", |s| s.live),
    ("inuse_space", |s| s.live_bytes),
    ("stack_avoidable_objects", |s| s.stack_avoidable),
    ("escaped_objects", |s| s.escaped),
];

/// The frames pprof gets: from the site outwards, as Go's heap profiles start at the caller
/// of the allocator.
fn from_site<'r>(r: &'r Report, s: &StackReport) -> Vec<&'r alloc_probe::FrameReport> {
    let mut frames = r.frames_of(s);
    let from = if s.site < frames.len() { s.site } else { 0 };
    frames.drain(..from);
    frames
}

/// `(flat, cum)` of every function, as pprof computes them from our samples.
fn flat_and_cum(r: &Report, value: Figure) -> BTreeMap<String, (u64, u64)> {
    let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for s in &r.stacks {
        let frames = from_site(r, s);
        let Some(leaf) = frames.first() else { continue };
        out.entry(leaf.function.clone()).or_default().0 += value(s);
        let distinct: HashSet<&str> = frames.iter().map(|f| f.function.as_str()).collect();
        for f in distinct {
            out.entry(f.to_string()).or_default().1 += value(s);
        }
    }
    out
}

/// `1234567` as `1,234,567`, as `Intl.NumberFormat` (en-US) and inferno print it.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Files of this run, kept for a look afterwards (each test writes its own names).
fn scratch(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("profiles")
        .join(name)
}

/// Runs a tool, failing the test with its output unless it succeeds.
fn run(cmd: &mut Command, package: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {:?} ({e}): install it with `apt-get install -y {package}` (.ci/run does)",
            cmd.get_program()
        )
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

// ---- pprof, read by `go tool pprof` ----

/// `go tool pprof -symbolize=none ARGS FILE`, offline: a private HOME and cache, no proxy,
/// no toolchain download.
fn pprof(file: &Path, args: &[&str]) -> String {
    let home = scratch("go-home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new("go");
    cmd.args(["tool", "pprof", "-symbolize=none"])
        .args(args)
        .arg(file)
        .env("HOME", &home)
        .env("GOCACHE", home.join("cache"))
        .env("GOPATH", home.join("go"))
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("PPROF_TMPDIR", &home);
    run(&mut cmd, "golang-go")
}

/// A figure as pprof prints it with `-unit=B`: `160000B`, `5000`, or `.` for zero.
fn figure(s: &str) -> u64 {
    if s == "." {
        return 0;
    }
    s.trim_end_matches('B')
        .parse()
        .unwrap_or_else(|e| panic!("not a pprof figure: {s:?} ({e})"))
}

/// The unit flag for a sample type: whole bytes for `*_space`, plain counts otherwise.
fn unit_flag(ty: &str) -> &'static str {
    if ty.ends_with("_space") {
        "-unit=B"
    } else {
        "-unit=minimum"
    }
}

#[test]
fn pprof_top_shows_every_sample_type_exactly() {
    let r = &workload().report;
    let file = scratch("heap.pb.gz");
    r.write_pprof(&file).unwrap();
    for (ty, value) in SAMPLE_TYPES {
        let index = format!("-sample_index={ty}");
        let out = pprof(
            &file,
            &[
                "-top",
                "-nodecount=1000000",
                "-nodefraction=0",
                "-edgefraction=0",
                unit_flag(ty),
                &index,
            ],
        );
        assert!(out.contains(&format!("Type: {ty}\n")), "{out}");
        let total: u64 = r.stacks.iter().map(value).sum();
        let shown = out
            .lines()
            .find_map(|l| l.strip_prefix("Showing nodes accounting for "))
            .and_then(|l| l.split(" of ").nth(1))
            .and_then(|l| l.strip_suffix(" total"))
            .unwrap_or_else(|| panic!("no total in:\n{out}"));
        assert_eq!(figure(shown), total, "{ty} total:\n{out}");

        let expected = flat_and_cum(r, value);
        let mut rows = 0;
        for line in out.lines().skip_while(|l| !l.contains("flat%")).skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let name = cols[5..].join(" ");
            let (flat, cum) = (figure(cols[0]), figure(cols[3]));
            // pprof prints our names as written: full paths, generics and all.
            let name = name.strip_suffix(" (inline)").unwrap_or(&name);
            let want = expected.get(name).copied();
            assert_eq!(Some((flat, cum)), want, "{ty}, {name}:\n{out}");
            rows += 1;
        }
        assert!(rows > 0, "no function of the report in:\n{out}");
        for f in FUNCTIONS {
            let want = expected.get(f).copied().unwrap_or_default();
            let printed = out.lines().any(|l| l.ends_with(&format!(" {f}")));
            assert_eq!(printed, want.1 > 0, "{ty}: {f} {want:?}:\n{out}");
        }
    }
}

#[test]
fn pprof_list_puts_the_figures_on_the_source_lines() {
    let w = workload();
    let r = &w.report;
    let file = scratch("list.pb.gz");
    r.write_pprof(&file).unwrap();
    for (ty, value) in SAMPLE_TYPES {
        let index = format!("-sample_index={ty}");
        let regex = "^profiles::(avoidable_boxes|escaping_boxes|leaked_buffers)$";
        let out = pprof(&file, &["-list", regex, unit_flag(ty), &index]);
        for &(function, line) in &w.sites {
            let want: u64 = r
                .stacks
                .iter()
                .filter(|s| {
                    let f = from_site(r, s)[0];
                    f.function == function && f.line == line
                })
                .map(value)
                .sum();
            let Some(routine) = out
                .split("ROUTINE ======================== ")
                .find(|r| r.starts_with(&format!("{function} in ")))
            else {
                assert_eq!(want, 0, "{ty}: no routine {function}:\n{out}");
                continue;
            };
            assert!(
                routine.starts_with(&format!("{function} in tests/profiles.rs\n")),
                "{routine}"
            );
            let row = routine
                .lines()
                .find(|l| l.split_whitespace().nth(2) == Some(&format!("{line}:")))
                .unwrap_or_else(|| panic!("{ty}: no line {line} in:\n{routine}"));
            let cols: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(
                figure(cols[0]),
                want,
                "{ty}, flat at {function}:{line}:\n{routine}"
            );
            assert!(
                row.contains("Box::new") || row.contains("vec!") || row.contains("with_capacity"),
                "the source line is shown: {row}"
            );
        }
    }
}

#[test]
fn pprof_carries_labels_period_and_comments() {
    let r = &workload().report;
    let file = scratch("raw.pb.gz");
    r.write_pprof(&file).unwrap();
    let raw = pprof(&file, &["-raw"]);
    let types = "alloc_objects/count alloc_space/bytes[dflt] inuse_objects/count \
                 inuse_space/bytes stack_avoidable_objects/count escaped_objects/count";
    assert!(raw.contains(types), "{raw}");
    assert!(raw.contains("PeriodType: space bytes"), "{raw}");
    let period = r.sample_rate.unwrap_or(1);
    assert!(raw.contains(&format!("Period: {period}\n")), "{raw}");
    assert!(raw.contains("bytes:[32 bytes]"), "the boxes' size: {raw}");
    let big = format!("bytes:[{LEAKED_SIZE} bytes]");
    assert!(raw.contains(&big), "the buffers' size: {raw}");
    let comments = pprof(&file, &["-comments"]);
    assert!(comments.contains("alloc-probe "), "{comments}");
    assert!(
        comments.contains(&format!("mode: {}", r.mode)),
        "{comments}"
    );
}

// ---- DHAT, read back and shown by dh_view.html ----

#[test]
fn dhat_totals_add_up() {
    let w = workload();
    let r = &w.report;
    let file = scratch("dhat.json");
    r.write_dhat(&file).unwrap();
    let d: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    for (field, want) in [
        ("dhatFileVersion", Value::from(2)),
        ("mode", "rust-heap".into()),
        ("verb", "Allocated".into()),
        ("bklt", true.into()),
        ("bkacc", false.into()),
        ("bu", "byte".into()),
        ("bsu", "bytes".into()),
        ("bksu", "blocks".into()),
        ("tu", "µs".into()),
        ("Mtu", "s".into()),
        ("tuth", 500.into()),
        ("cmd", r.binary.as_str().into()),
        ("pid", r.pid.into()),
        ("te", (r.elapsed_ns / 1000).into()),
        ("tg", (r.peak_ns / 1000).into()),
    ] {
        assert_eq!(d[field], want, "{field}");
    }
    let ftbl = d["ftbl"].as_array().unwrap();
    assert_eq!(ftbl[0], "[root]");
    let pps = d["pps"].as_array().unwrap();
    let mut seen = HashSet::new();
    for pp in pps {
        let fs = pp["fs"].as_array().unwrap();
        assert!(fs
            .iter()
            .all(|i| (1..ftbl.len() as u64).contains(&i.as_u64().unwrap())));
        assert!(
            seen.insert(fs),
            "dh_view refuses repeated frame lists: {fs:?}"
        );
        for f in ["tb", "tbk", "tl", "mb", "mbk", "gb", "gbk", "eb", "ebk"] {
            assert!(pp[f].is_u64(), "{f} in {pp}");
        }
    }
    let sum = |f: &str| pps.iter().map(|pp| pp[f].as_u64().unwrap()).sum::<u64>();
    let total = |v: Figure| r.stacks.iter().map(v).sum::<u64>();
    assert_eq!(sum("tb"), total(|s| s.bytes));
    assert_eq!(sum("tbk"), total(|s| s.allocs));
    assert_eq!(sum("eb"), total(|s| s.live_bytes));
    assert_eq!(sum("ebk"), total(|s| s.live));
    assert_eq!(sum("gb"), total(|s| s.gmax_bytes));
    assert_eq!(sum("gbk"), total(|s| s.gmax_blocks));
    let (function, line) = w.sites[0];
    let frame = format!("0x0: {function} (tests/profiles.rs:{line})");
    assert!(ftbl.iter().any(|f| *f == frame), "{frame} in {ftbl:?}");
}

/// Valgrind's viewer, wherever the distribution puts it.
fn dh_view_dir() -> PathBuf {
    let candidates = [
        "/usr/libexec/valgrind",
        "/usr/lib/valgrind",
        "/usr/lib/x86_64-linux-gnu/valgrind",
        "/usr/local/libexec/valgrind",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|d| d.join("dh_view.js").is_file())
        .unwrap_or_else(|| {
            panic!("dh_view.js not found in {candidates:?}: `apt-get install -y valgrind`")
        })
}

/// Loads the DHAT file into `dh_view.html`'s own code in headless Chromium and returns the
/// text the page shows.
///
/// The viewer reads a file picked in an `<input type=file>`. A page next to it loads
/// `dh_view.js` and `dh_view.css` from Valgrind's directory, carries the JSON inline, puts
/// it in the input as a `File` (through `DataTransfer`) and calls the viewer's own
/// `loadFile()`: the same path as a person's click, FileReader included. Chromium's virtual
/// time budget lets the FileReader finish before `--dump-dom` prints the page.
fn dh_view_text(json: &str) -> String {
    let viewer = dh_view_dir();
    let page = format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="UTF-8">
<link rel="stylesheet" href="file://{dir}/dh_view.css">
<script src="file://{dir}/dh_view.js"></script>
<script type="application/json" id="dhat-data">{data}</script>
<script>
function loadEmbedded() {{
  onLoad();
  const data = document.getElementById("dhat-data");
  const text = data.textContent;
  data.remove(); // leaves only what the viewer shows to be read
  const files = new DataTransfer();
  files.items.add(new File([text], "dhat.json", {{ type: "application/json" }}));
  gInput.files = files.files;
  loadFile();
}}
</script>
</head><body onload="loadEmbedded()"></body></html>
"#,
        dir = viewer.display(),
        // `</` cannot end the script element early when written `<\/` (the same JSON string).
        data = json.replace("</", "<\\/"),
    );
    let html = scratch("dh_view/page.html");
    std::fs::create_dir_all(html.parent().unwrap()).unwrap();
    std::fs::write(&html, page).unwrap();
    let profile = scratch("dh_view/chromium-profile");
    let _ = std::fs::remove_dir_all(&profile); // a fresh profile for every run
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())
        .unwrap_or("chromium");
    let dom = run(
        Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--lang=en-US",
                "--allow-file-access-from-files",
                "--virtual-time-budget=10000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--dump-dom")
            .arg(format!("file://{}", html.display())),
        "chromium",
    );
    assert!(
        !dom.contains("class=\"error\""),
        "dh_view shows an error:\n{dom}"
    );
    text_of(&dom)
}

/// The text of an HTML page: tags dropped, entities decoded.
fn text_of(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

#[test]
fn dh_view_shows_the_totals() {
    let w = workload();
    let r = &w.report;
    let file = scratch("dh_view.json");
    r.write_dhat(&file).unwrap();
    let text = dh_view_text(&std::fs::read_to_string(&file).unwrap());
    let total = |v: Figure| thousands(r.stacks.iter().map(v).sum::<u64>());
    for want in [
        "Mode:    rust-heap".to_string(),
        format!("Command: {}", r.binary),
        format!("PID:     {}", r.pid),
        format!("t-end:  {} µs", thousands(r.elapsed_ns / 1000)),
        format!("Total:     {} bytes (100%", total(|s| s.bytes)),
        format!("in {} blocks (100%", total(|s| s.allocs)),
        format!("At t-end:  {} bytes (100%)", total(|s| s.live_bytes)),
        format!("At t-gmax: {} bytes (100%)", total(|s| s.gmax_bytes)),
        format!("0x0: {} (tests/profiles.rs:{})", w.sites[0].0, w.sites[0].1),
    ] {
        let start: String = text.chars().take(4000).collect();
        assert!(
            text.contains(&want),
            "dh_view does not show {want:?}:\n{start}"
        );
    }
}

// ---- Flame graphs ----

#[test]
fn flame_graphs_name_the_cost_and_its_total() {
    let r = &workload().report;
    let costs: [(FlameCost, Figure, &str, &str); 4] = [
        (
            FlameCost::Blocks,
            |s| s.allocs,
            "Allocated blocks",
            "blocks",
        ),
        (FlameCost::Bytes, |s| s.bytes, "Allocated bytes", "bytes"),
        (
            FlameCost::StackAvoidable,
            |s| s.stack_avoidable,
            "Stack-avoidable blocks",
            "blocks",
        ),
        (
            FlameCost::LeakedBytes,
            |s| s.live_bytes,
            "Leaked bytes",
            "bytes",
        ),
    ];
    for (cost, value, title, unit) in costs {
        let file = scratch(&format!("flame-{cost:?}.svg"));
        r.write_flamegraph(&file, cost).unwrap();
        let svg = std::fs::read_to_string(&file).unwrap();
        assert!(
            svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"),
            "{cost:?}"
        );
        assert!(
            svg.contains(&format!("alloc-probe: {title}")),
            "{cost:?} title"
        );
        let total: u64 = r.stacks.iter().map(value).sum();
        assert!(
            svg.contains(&format!("{total} {unit} in total")),
            "{cost:?} subtitle"
        );
        let root = format!("all ({} {unit}, 100%)", thousands(total));
        assert!(svg.contains(&root), "{cost:?}: no {root:?}");
        for f in FUNCTIONS {
            // Each workload function sits on one path, so one frame carries all of it.
            let cum: u64 = r
                .stacks
                .iter()
                .filter(|s| r.frames_of(s).iter().any(|fr| fr.function == f))
                .map(value)
                .sum();
            let tooltip = format!("<title>{f} ({} {unit}, ", thousands(cum));
            assert_eq!(svg.contains(&tooltip), cum > 0, "{cost:?}: {tooltip}");
        }
    }
}

#[test]
fn empty_flame_graph_is_a_valid_svg_that_says_so() {
    let mut r = workload().report.clone();
    r.stacks.clear();
    let file = scratch("flame-empty.svg");
    r.write_flamegraph(&file, FlameCost::LeakedBytes).unwrap();
    let svg = std::fs::read_to_string(&file).unwrap();
    assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("Nothing to draw: no Leaked bytes"), "{svg}");
}

// ---- Merge, and failures ----

#[test]
fn merging_a_report_with_itself_doubles_it() {
    let r = &workload().report;
    let json = scratch("merge/report.json");
    r.write_json(&json).unwrap();
    let back = Report::read_json(&json).unwrap();
    let m = Report::merge(&[r.clone(), back]).unwrap();
    assert_eq!((m.pid, m.binary.as_str()), (0, r.binary.as_str()));
    assert_eq!(m.stats.allocs, 2 * r.stats.allocs);
    assert_eq!(m.stats.bytes_allocated, 2 * r.stats.bytes_allocated);
    assert_eq!(m.stats.live_bytes, 2 * r.stats.live_bytes);
    assert_eq!(
        m.stats.peak_live_bytes, r.stats.peak_live_bytes,
        "max of the peaks"
    );
    assert_eq!(m.peak_ns, r.peak_ns);
    for s in &r.sites {
        let same = |x: &&alloc_probe::SiteReport| {
            (&x.file, x.line, &x.function) == (&s.file, s.line, &s.function)
        };
        let ms = m.sites.iter().find(same).unwrap();
        assert_eq!((ms.allocs, ms.bytes), (2 * s.allocs, 2 * s.bytes), "{s:?}");
        assert_eq!(ms.stack_avoidable, 2 * s.stack_avoidable, "{s:?}");
        assert_eq!(
            (ms.escaped, ms.leaked),
            (2 * s.escaped, 2 * s.leaked),
            "{s:?}"
        );
        assert_eq!(
            ms.gmax_bytes, s.gmax_bytes,
            "one moment: the first report's peak"
        );
        assert_eq!(ms.verdict_kind, s.verdict_kind, "{s:?}");
    }
    let distinct: HashSet<_> = r.stacks.iter().map(|s| r.frames_of(s)).collect();
    assert_eq!(m.stacks.len(), distinct.len());
    let blocks = |r: &Report| r.stacks.iter().map(|s| s.allocs).sum::<u64>();
    assert_eq!(blocks(&m), 2 * blocks(r));
    let f = r.function("tracked_strings").expect("tracked function");
    let mf = m.function("tracked_strings").unwrap();
    assert_eq!((mf.calls, mf.allocs), (2 * f.calls, 2 * f.allocs));
    assert_eq!(mf.calls, 2 * TRACKED_CALLS);
    assert_eq!(mf.allocs_per_call, f.allocs_per_call);
    assert_eq!(mf.sites.len(), f.sites.len());
}

#[test]
fn writers_return_errors_rather_than_panic() {
    let r = &workload().report;
    let blocker = scratch("not-a-dir");
    std::fs::create_dir_all(blocker.parent().unwrap()).unwrap();
    std::fs::write(&blocker, b"a file").unwrap();
    let under = blocker.join("out");
    assert!(r.write_pprof(&under).is_err());
    assert!(r.write_dhat(&under).is_err());
    assert!(r.write_flamegraph(&under, FlameCost::Blocks).is_err());
    // Parent directories are made as needed.
    let deep = scratch("a/b/c/heap.pb.gz");
    r.write_pprof(&deep).unwrap();
    assert!(deep.is_file());
}
