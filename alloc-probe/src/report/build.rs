//! Builds a [`Report`] from the live tables.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

use super::classify::{classify, verdict, Classes, Evidence};
use super::model::{
    Fast, FrameReport, FunctionReport, FunctionSite, Report, SiteReport, StackReport, Tables,
    TestReport, TrackingCost, SCHEMA, SCHEMA_VERSION,
};
use super::names::{short_fn, simplify_path, Paths};
use super::symbols::{Frame, Symbols};
use crate::counters::{self, peak, Stats};
use crate::sys::settings::{self, Mode};
use crate::sys::stack::FRAME_POINTERS;
use crate::sys::{clock, guard};
use crate::thread;
use crate::tracking::functions::{self, Figures, SourceSite};
use crate::tracking::header::HEADER;
use crate::tracking::points::{self, UNIT_FULL, UNIT_SAMPLED};
use crate::tracking::side;
use crate::tracking::tree;

/// Builds the report; alloc-probe's own allocations meanwhile are not counted.
pub(crate) fn build() -> Report {
    let _ignore = guard::Ignore::new();
    let running = running_calls();
    let mode = settings::mode().unwrap_or(Mode::Full);
    let stats = counters::totals();
    let epoch = peak::epoch();
    let unit = if mode == Mode::Sampled {
        UNIT_SAMPLED
    } else {
        UNIT_FULL
    };
    let rate = clock::ns_per_tick();
    let stack_limit = settings::stack_limit();
    let mut stacks = Stacks::default();
    let mut by_site: HashMap<(String, u32, String), SiteEvidence> = HashMap::new();
    let mut by_fn_site: HashMap<(u32, String, u32, String), Classes> = HashMap::new();
    let mut out: Vec<StackReport> = Vec::new();
    let mut by_node: HashMap<u32, usize, Fast> = HashMap::default();
    // By the frame of each test's function (see `Stacks::test_of`).
    // By libtest's name of each test (its function's frame may differ between stacks).
    let mut by_test: HashMap<String, TestReport> = HashMap::new();
    let mut by_test_site: HashMap<(String, (String, u32, String)), SiteEvidence> = HashMap::new();

    for id in 1..=points::count() {
        let Some(p) = points::get(id) else { continue };
        if p.c.blocks.get() == 0 {
            continue;
        }
        let st = stacks.stack(p.leaf);
        let test = stacks.test_of(p.leaf);
        let site = stacks.frame(st.site_frame);
        let c = classify(p, st.site_phys, epoch, unit);
        // One row per line of a function: its monomorphisations (`parse::<u8>`,
        // `parse::<u32>`) print alike, so they are one site.
        let key = (site.file.clone(), site.line, simplify_path(&site.function));
        let func = p.function.load(Relaxed);
        if func != 0 {
            by_fn_site
                .entry((func - 1, key.0.clone(), key.1, key.2.clone()))
                .or_default()
                .add(&c);
        }
        if let Some(t) = test {
            let name = test_name(&stacks.frame(t).function);
            let test = by_test.entry(name.clone()).or_default();
            test.allocs += c.blocks;
            test.bytes += c.bytes;
            test.max_live_bytes += c.max_bytes;
            test.leaked += c.leaked;
            test.leaked_bytes += c.leaked_bytes;
            let e = by_test_site.entry((name, key.clone())).or_default();
            e.add(site, &st, &c, &stacks, func);
        }
        by_site
            .entry(key)
            .or_default()
            .add(site, &st, &c, &stacks, func);
        // Stacks whose frames print alike (different return addresses on one line) are one.
        let row = StackReport {
            node: st.node,
            site: st.site,
            allocs: c.blocks,
            bytes: c.bytes,
            live: c.leaked,
            live_bytes: c.leaked_bytes,
            stack_avoidable: c.stack_avoidable,
            escaped: c.escaped,
            total_lifetime_ns: (c.lifetime_ticks as f64 * rate) as u64,
            max_bytes: c.max_bytes,
            max_blocks: c.max_blocks,
            gmax_bytes: c.gmax_bytes,
            gmax_blocks: c.gmax_blocks,
        };
        match by_node.get(&st.node) {
            Some(&i) => add_stack(&mut out[i], &row),
            None => {
                by_node.insert(st.node, out.len());
                out.push(row);
            }
        }
    }

    let site_report = |((file, line, _), e): ((String, u32, String), SiteEvidence)| {
        e.report(file, line, stack_limit, rate)
    };
    let mut sites: Vec<SiteReport> = by_site.into_iter().map(site_report).collect();
    sort_sites(&mut sites);
    let mut test_sites: HashMap<String, Vec<SiteReport>> = HashMap::new();
    for ((t, key), e) in by_test_site {
        test_sites.entry(t).or_default().push(site_report((key, e)));
    }
    out.sort_by(|a, b| b.allocs.cmp(&a.allocs).then(b.bytes.cmp(&a.bytes)));

    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown".into());
    let functions = functions_report(by_fn_site, &running, unit, rate, stack_limit);
    let test_binary = test_binary(&binary);
    let mut tests: Vec<TestReport> = by_test
        .into_iter()
        .map(|(name, mut test)| {
            test.binary.clone_from(&test_binary);
            test.sites = test_sites.remove(&name).unwrap_or_default();
            test.name = name;
            sort_sites(&mut test.sites);
            test
        })
        .collect();
    tests.sort_by(|a, b| b.allocs.cmp(&a.allocs).then_with(|| a.name.cmp(&b.name)));
    let tracking = tracking_cost(mode, &stats, unit);
    Report {
        schema: SCHEMA.to_string(),
        tracking,
        version: SCHEMA_VERSION,
        binary,
        pid: std::process::id(),
        mode: mode.name().to_string(),
        sample_rate: (mode == Mode::Sampled).then(settings::sample_rate),
        stack_limit,
        frame_test: FRAME_POINTERS,
        elapsed_ns: clock::ticks_to_ns(clock::ticks(), rate),
        peak_ns: clock::ticks_to_ns(peak::ticks(), rate),
        stats,
        sites,
        functions,
        tests,
        frames: stacks.tables.frames,
        locations: stacks.tables.locations,
        nodes: stacks.tables.nodes,
        stacks: out,
    }
}

/// A site's classes, and the names its verdict gives its evidence (see [`Evidence`]).
#[derive(Default)]
struct SiteEvidence {
    /// The site's function as its first stack names it (the key drops generic arguments).
    function: String,
    classes: Classes,
    call: Option<String>,
    host: Option<String>,
    runtime: Option<bool>,
    line_of_function: bool,
}

impl SiteEvidence {
    /// Adds the blocks `c` of a point whose stack `st` has its site at frame `site`.
    fn add(&mut self, site: &FrameReport, st: &Placed, c: &Classes, stacks: &Stacks, func: u32) {
        if self.function.is_empty() {
            self.function.clone_from(&site.function);
        }
        self.classes.add(c);
        // Runtime only if every stack of the site is.
        self.runtime = Some(self.runtime.unwrap_or(true) && st.runtime);
        self.line_of_function |= site.line_of_function;
        if c.non_escaping > c.in_call && self.host.is_none() {
            self.host = st.host.map(|h| stacks.frame(h).function.clone());
        }
        if c.in_call > 0 && self.call.is_none() {
            self.call = functions::info(func.wrapping_sub(1)).map(|f| f.name.to_string());
        }
    }

    /// The site's row, with its verdict.
    fn report(self, file: String, line: u32, stack_limit: u64, rate: f64) -> SiteReport {
        let function = self.function;
        let c = self.classes;
        let host = self.host.as_deref().map(short_fn);
        let evidence = Evidence {
            func: &short_fn(&function),
            call: self.call.as_deref(),
            host: host.as_deref(),
        };
        let v = verdict(&c, &evidence, stack_limit, FRAME_POINTERS);
        SiteReport {
            file,
            line,
            function,
            allocs: c.blocks,
            bytes: c.bytes,
            reallocs: c.reallocs,
            non_escaping: c.non_escaping,
            in_call: c.in_call,
            tracked_call: self.call,
            inlined_into: self.host,
            runtime: self.runtime.unwrap_or(false),
            line_of_function: self.line_of_function,
            stack_avoidable: c.stack_avoidable,
            escaped: c.escaped,
            temporary: c.temporary,
            leaked: c.leaked,
            leaked_bytes: c.leaked_bytes,
            grown: c.grown,
            freed_elsewhere: c.freed_elsewhere,
            min_size: c.min_size,
            max_size: c.max_size,
            total_lifetime_ns: (c.lifetime_ticks as f64 * rate) as u64,
            max_bytes: c.max_bytes,
            max_blocks: c.max_blocks,
            gmax_bytes: c.gmax_bytes,
            gmax_blocks: c.gmax_blocks,
            verdict_kind: v.kind.to_string(),
            verdict: v.text,
        }
    }
}

/// Most blocks first, then most bytes, then by place.
fn sort_sites(sites: &mut [SiteReport]) {
    sites.sort_by(|a, b| {
        b.allocs
            .cmp(&a.allocs)
            .then(b.bytes.cmp(&a.bytes))
            .then_with(|| (&a.file, a.line).cmp(&(&b.file, b.line)))
    });
}

/// A test binary's name as nextest gives it (`NEXTEST_BINARY_ID`), and as cargo's runs
/// make it: the package for its library's unit tests, `package::file` for `tests/file.rs`.
fn test_binary(binary: &str) -> String {
    if let Some(id) = std::env::var_os("NEXTEST_BINARY_ID") {
        return id.to_string_lossy().into_owned();
    }
    let krate = test_crate(binary);
    match std::env::var("CARGO_PKG_NAME") {
        Ok(package) if package.replace('-', "_") != krate => format!("{package}::{krate}"),
        Ok(package) => package,
        Err(_) => krate,
    }
}

/// A test binary's crate: cargo names it `<crate>-<16 hex digits>`.
fn test_crate(binary: &str) -> String {
    let stem = binary
        .strip_suffix(std::env::consts::EXE_SUFFIX)
        .unwrap_or(binary);
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name.to_string()
        }
        _ => stem.to_string(),
    }
}

/// libtest's name of the test whose function (or the closure `#[test]` wraps it in) is
/// `function`: its path without the crate, generic arguments or closures.
fn test_name(function: &str) -> String {
    let plain = simplify_path(function);
    let mut parts: Vec<&str> = plain.split("::").collect();
    while parts.last().is_some_and(|p| p.starts_with('{')) {
        parts.pop();
    }
    parts.get(1..).unwrap_or_default().join("::")
}

/// Adds stack `b`'s figures to `a`'s.
fn add_stack(a: &mut StackReport, b: &StackReport) {
    a.allocs += b.allocs;
    a.bytes += b.bytes;
    a.live += b.live;
    a.live_bytes += b.live_bytes;
    a.stack_avoidable += b.stack_avoidable;
    a.escaped += b.escaped;
    a.total_lifetime_ns += b.total_lifetime_ns;
    a.max_bytes += b.max_bytes;
    a.max_blocks += b.max_blocks;
    a.gmax_bytes += b.gmax_bytes;
    a.gmax_blocks += b.gmax_blocks;
}

/// Where a point's stack sits in the report: its node, its site among its frames, and the
/// site's frame and physical frame.
struct Placed {
    node: u32,
    site: usize,
    site_frame: u32,
    site_phys: usize,
    /// Where the site's function was inlined into another, that function's frame (the
    /// machine frame the frame test tests).
    host: Option<u32>,
    /// Whether no frame of the stack is the program's own: the test harness's allocations and
    /// the standard library's set-up, the runtime.
    runtime: bool,
}

/// The report's stacks as they are made from the call tree: each return address symbolised
/// once, each call-tree node placed in the report's tree once.
#[derive(Default)]
struct Stacks {
    symbols: Symbols,
    paths: Paths,
    tables: Tables,
    /// Each return address's logical frames, innermost first, as frame-table indices, and
    /// its machine frame.
    by_ip: HashMap<usize, (Vec<u32>, u32), Fast>,
    /// Each call-tree node's report node: the whole path from the root, every frame kept.
    by_node: HashMap<u32, u32, Fast>,
    /// Of each frame in the table: whether it is alloc-probe's, internal (see
    /// [`Frame::is_internal`]), in `std`, and the test harness's.
    kinds: Vec<Kind>,
    /// Where each call-tree node stands with libtest's tests (see [`Stacks::test_of`]).
    tests: HashMap<u32, InTest, Fast>,
}

/// The call-tree nodes from `id` up to the first that `seen` has, innermost first, and what
/// it has for that one (none when the root was reached).
fn unseen<T: Copy>(seen: &HashMap<u32, T, Fast>, id: u32) -> (Vec<u32>, Option<T>) {
    let mut chain = Vec::new();
    let mut cur = id;
    while cur != 0 {
        if let Some(&v) = seen.get(&cur) {
            return (chain, Some(v));
        }
        chain.push(cur);
        cur = tree::node(cur).parent;
    }
    (chain, None)
}

/// Where a stack stands with libtest's tests, read from its root: outside the harness, in the
/// harness (its frame was seen), or in a test (the frame of its function).
#[derive(Clone, Copy, PartialEq)]
enum InTest {
    Outside,
    Harness,
    Test(u32),
}

#[derive(Clone, Copy, Default)]
struct Kind {
    probe: bool,
    internal: bool,
    std: bool,
    harness: bool,
    /// Whether the debug info gives its file: compiler-made shims (`<fn() as FnOnce>::
    /// call_once`) have none.
    sourced: bool,
}

impl Stacks {
    fn frame(&self, i: u32) -> &FrameReport {
        &self.tables.frames[i as usize]
    }

    /// The logical frames at return address `ip`, innermost first, and their machine frame.
    fn at(&mut self, ip: usize) -> &(Vec<u32>, u32) {
        if !self.by_ip.contains_key(&ip) {
            let truncated = [Frame {
                function: "(truncated)".into(),
                file: String::new(),
                line: 0,
                line_of_function: false,
            }];
            let fs = if ip == tree::TRUNCATED {
                &truncated[..]
            } else {
                self.symbols.frames(ip)
            };
            let mut ids = Vec::with_capacity(fs.len());
            for (i, f) in fs.iter().enumerate() {
                let id = self.tables.frame(&FrameReport {
                    function: f.function.clone(),
                    file: self.paths.show(&f.file),
                    line: f.line,
                    inlined: i + 1 < fs.len(),
                    line_of_function: f.line_of_function,
                });
                if id as usize == self.kinds.len() {
                    self.kinds.push(Kind {
                        probe: f.is_probe(),
                        internal: f.is_internal(),
                        std: f.function.trim_start_matches('<').starts_with("std::"),
                        harness: f.is_harness(),
                        sourced: !f.file.is_empty(),
                    });
                }
                ids.push(id);
            }
            let location = self.tables.location(&ids);
            self.by_ip.insert(ip, (ids, location));
        }
        &self.by_ip[&ip]
    }

    /// The report node of call-tree node `id`'s whole path (0 for none).
    fn path(&mut self, id: u32) -> u32 {
        // The nodes up to the first one already placed, then placed from the root down.
        let (chain, placed) = unseen(&self.by_node, id);
        let mut node = placed.unwrap_or(0);
        for &t in chain.iter().rev() {
            let location = self.at(tree::node(t).ip).1;
            node = self.tables.node(node, location);
            self.by_node.insert(t, node);
        }
        node
    }

    /// Places the stack ending at call-tree node `leaf`: alloc-probe's own frames at the top
    /// dropped, its site the first frame of the program's own; for allocations the standard
    /// library makes on its own (start-up, panics, backtraces), its first `std` frame, which
    /// says what for.
    fn stack(&mut self, leaf: u32) -> Placed {
        // The stack's frames from the innermost, with their physical frame and call-tree node,
        // up to the site.
        let mut seen: Vec<(u32, usize, u32, usize)> = Vec::new(); // (frame, phys, node, inline index)
        let (mut first, mut site, mut std_site) = (None, None, None);
        // Whether the test harness ran inside the site's frame: then the harness allocated.
        let mut harness = false;
        let (mut id, mut phys) = (leaf, 0);
        while id != 0 && site.is_none() {
            let frames = self.at(tree::node(id).ip).0.clone();
            for (j, &f) in frames.iter().enumerate() {
                let kind = self.kinds[f as usize];
                if first.is_none() {
                    if kind.probe {
                        continue;
                    }
                    first = Some(seen.len());
                }
                if site.is_none() && !kind.internal {
                    site = Some(seen.len());
                }
                harness |= site.is_none() && kind.harness;
                if std_site.is_none() && kind.std {
                    std_site = Some(seen.len());
                }
                seen.push((f, phys, id, j));
            }
            id = tree::node(id).parent;
            phys += 1;
        }
        let Some(first) = first else {
            return Placed {
                node: 0,
                site: 0,
                site_frame: self.unknown(),
                site_phys: 0,
                host: None,
                runtime: true,
            };
        };
        let at = site.or(std_site).unwrap_or(first);
        // The stack's node: its first kept frame's, under the path of that frame's callers.
        let (_, _, t, j) = seen[first];
        let caller = self.path(tree::node(t).parent);
        let (group, whole) = self.at(tree::node(t).ip).clone();
        let location = if j == 0 {
            whole
        } else {
            self.tables.location(&group[j..])
        };
        let node = self.tables.node(caller, location);
        // The site's machine frame runs the outermost of the functions inlined at its address.
        let (_, _, site_node, _) = seen[at];
        let host = self.at(tree::node(site_node).ip).0.last().copied();
        Placed {
            node,
            site: at - first,
            site_frame: seen[at].0,
            site_phys: seen[at].1,
            host: host.filter(|&h| h != seen[at].0),
            runtime: site.is_none() || harness,
        }
    }

    /// The frame of the test whose function call-tree node `leaf`'s stack runs in, if any:
    /// the first frame of the program's own inside libtest's, with a source file (the
    /// closure `#[test]` wraps the function in, or the function).
    fn test_of(&mut self, leaf: u32) -> Option<u32> {
        let (chain, known) = unseen(&self.tests, leaf);
        let mut state = known.unwrap_or(InTest::Outside);
        for &t in chain.iter().rev() {
            if !matches!(state, InTest::Test(_)) {
                let frames = self.at(tree::node(t).ip).0.clone();
                for &f in frames.iter().rev() {
                    let kind = self.kinds[f as usize];
                    state = match state {
                        InTest::Outside if kind.harness => InTest::Harness,
                        InTest::Harness if kind.sourced && !kind.internal && !kind.harness => {
                            InTest::Test(f)
                        }
                        s => s,
                    };
                }
            }
            self.tests.insert(t, state);
        }
        match state {
            InTest::Test(f) => Some(f),
            _ => None,
        }
    }

    /// The frame of a site that could not be found.
    fn unknown(&mut self) -> u32 {
        let id = self.tables.frame(&FrameReport {
            function: "[unknown]".into(),
            file: String::new(),
            line: 0,
            inlined: false,
            line_of_function: false,
        });
        if id as usize == self.kinds.len() {
            self.kinds.push(Kind::default());
        }
        id
    }
}

fn tracking_cost(mode: Mode, stats: &Stats, unit: u64) -> TrackingCost {
    if mode == Mode::Counts {
        return TrackingCost::default();
    }
    // Only `full` mode puts a header in front of blocks.
    let header_bytes = if mode == Mode::Full {
        stats.live_blocks * HEADER as u64
    } else {
        0
    };
    let (stacks, stack_bytes) = points::footprint();
    let side_bytes = side::footprint() as u64;
    let total = header_bytes + stack_bytes + side_bytes;
    let (blocks, bytes) = points::unsited_total();
    TrackingCost {
        header_bytes,
        stack_bytes,
        stacks,
        unsited_blocks: (blocks + unit / 2) / unit,
        unsited_bytes: (bytes + unit / 2) / unit,
        side_bytes,
        bytes_per_live_block: total as f64 / stats.live_blocks.max(1) as f64,
    }
}

/// `file:line in function (Nx)` for the sites of these points, for budget messages.
pub(crate) fn sites_of_points(ids: &[u32]) -> Vec<String> {
    let mut stacks = Stacks::default();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for &id in ids {
        let Some(p) = points::get(id) else { continue };
        let st = stacks.stack(p.leaf);
        let f = stacks.frame(st.site_frame);
        let s = format!("{}:{} in {}", f.file, f.line, short_fn(&f.function));
        match seen.iter_mut().find(|(k, _)| *k == s) {
            Some((_, n)) => *n += 1,
            None => seen.push((s, 1)),
        }
    }
    seen.into_iter()
        .map(|(s, n)| if n > 1 { format!("{s} ({n}x)") } else { s })
        .collect()
}

/// This thread's tracked calls still running (see `Calls::running`): the thread that calls
/// `report()` may be inside some. Read before the report allocates, which in `counts` mode
/// counts.
fn running_calls() -> Vec<(u32, Figures)> {
    let Some(slot) = thread::current() else {
        return Vec::new();
    };
    let t = slot.tally();
    let (allocated, high_water) = (t.allocated(), t.high_water());
    let mut out = Vec::new();
    // SAFETY: outside the allocator path, on the tracker's own thread, which is not in the
    // middle of a tracked call's push or pop.
    unsafe { slot.tracker() }
        .calls
        .running(allocated, high_water, |i, f| out.push((i, *f)));
    out
}

fn functions_report(
    by_fn_site: HashMap<(u32, String, u32, String), Classes>,
    running: &[(u32, Figures)],
    unit: u64,
    rate: f64,
    stack_limit: u64,
) -> Vec<FunctionReport> {
    let mut out = Vec::new();
    let mut fn_sites: HashMap<u32, Vec<FunctionSite>> = HashMap::new();
    for ((idx, file, line, function), c) in by_fn_site {
        // Within one tracked function's figures, its own calls are the evidence.
        let call = functions::info(idx).map(|f| f.name);
        let evidence = Evidence {
            func: &short_fn(&function),
            call,
            host: None,
        };
        let v = verdict(&c, &evidence, stack_limit, FRAME_POINTERS);
        // The scan may list several expressions on the line (`v.push(x.to_string())`):
        // show the outermost, which contains the others, and every kind.
        let on_line: Vec<&SourceSite> = functions::info(idx)
            .map(|info| {
                info.sites
                    .iter()
                    .filter(|s| {
                        s.line == line && (file.ends_with(info.file) || info.file.ends_with(&file))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let source = on_line.iter().max_by_key(|s| s.expr.len());
        let kinds: Vec<&str> = on_line.iter().map(|s| s.kind).collect();
        fn_sites.entry(idx).or_default().push(FunctionSite {
            file,
            line,
            function,
            allocs: c.blocks,
            bytes: c.bytes,
            reallocs: c.reallocs,
            non_escaping: c.non_escaping,
            stack_avoidable: c.stack_avoidable,
            escaped: c.escaped,
            temporary: c.temporary,
            verdict_kind: v.kind.to_string(),
            verdict: v.text,
            expr: source.map(|s| s.expr.to_string()),
            kind: (!kinds.is_empty()).then(|| kinds.join(", ")),
            column: source.map(|s| s.column),
        });
    }
    for idx in 0..functions::count() {
        let Some(info) = functions::info(idx) else {
            continue;
        };
        let mut t = functions::totals(idx, thread::slots().map(|s| s.fns()));
        for (_, f) in running.iter().filter(|(i, _)| *i == idx) {
            t.add(f);
        }
        if t.calls == 0 {
            continue;
        }
        let mut sites = fn_sites.remove(&idx).unwrap_or_default();
        sites.sort_by(|a, b| b.allocs.cmp(&a.allocs).then(a.line.cmp(&b.line)));
        let path = (info.path)();
        // The macro's marker fn sits in the function; an async fn's body is a closure.
        let path = path.strip_suffix("::__alloc_probe_here").unwrap_or(path);
        let path = path
            .strip_suffix("::{{closure}}")
            .or_else(|| path.strip_suffix("::{closure#0}"))
            .unwrap_or(path)
            .to_string();
        let non_escaping = ((t.non_escaping + unit / 2) / unit).min(t.allocs);
        let calls = t.calls as f64;
        out.push(FunctionReport {
            name: info.name.to_string(),
            path,
            file: info.file.to_string(),
            line: info.line,
            calls: t.calls,
            in_flight: t.in_flight,
            allocs: t.allocs,
            bytes: t.bytes,
            reallocs: t.reallocs,
            non_escaping,
            stack_avoidable: ((t.stack_avoidable + unit / 2) / unit).min(non_escaping),
            escaped: t.allocs - non_escaping,
            inclusive_allocs: t.incl_allocs,
            inclusive_reallocs: t.incl_reallocs,
            inclusive_bytes: t.incl_bytes,
            allocs_per_call: (t.incl_allocs + t.incl_reallocs) as f64 / calls,
            bytes_per_call: t.incl_bytes as f64 / calls,
            max_live_bytes: t.max_live,
            ns_per_call: t.ticks as f64 * rate / t.timed.max(1) as f64,
            max_allocs: info.max_allocs,
            max_bytes: info.max_bytes,
            sites,
        });
    }
    out.sort_by(|a, b| {
        b.inclusive_allocs
            .cmp(&a.inclusive_allocs)
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}
