//! Runs the site scenarios and prints the report as JSON, for the release-build check in
//! `tests/sites_release.rs`. Not a demo.

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[path = "../tests/scenarios/sites.rs"]
mod scenarios;

fn main() {
    let lines = [
        ("box_freed_in_place", scenarios::box_freed_in_place(1000)),
        ("box_returned", scenarios::box_returned(500)),
        ("growing_vec", scenarios::growing_vec(200)),
        ("big_temporary", scenarios::big_temporary(20)),
        ("leak", scenarios::leak(30)),
        ("sent_to_thread", scenarios::sent_to_thread(64)),
        ("sent_to_stale_thread", scenarios::sent_to_stale_thread(32)),
        ("freed_by_unwinding", scenarios::freed_by_unwinding(10)),
        ("fooled_frame_test", scenarios::fooled_frame_test(100)),
        (
            "two_monomorphisations",
            scenarios::two_monomorphisations(50),
        ),
    ];
    let two_callers = scenarios::two_callers_alternating(300);
    let inlined = scenarios::inlined_site(40);
    let r = alloc_probe::report();
    for (name, line) in lines {
        match r.site("tests/scenarios/sites.rs", line) {
            Some(s) => println!(
                "{name} line={line} allocs={} bytes={} reallocs={} non_escaping={} stack_avoidable={} escaped={} temporary={} leaked={} freed_elsewhere={} kind={}",
                s.allocs, s.bytes, s.reallocs, s.non_escaping, s.stack_avoidable, s.escaped,
                s.temporary, s.leaked, s.freed_elsewhere, s.verdict_kind
            ),
            None => println!("{name} line={line} missing"),
        }
    }
    let line = two_callers;
    let stacks: Vec<String> = scenarios::stacks_by_caller(&r, line)
        .into_iter()
        .map(|(caller, n)| format!("{}:{n}", caller.rsplit("::").next().unwrap_or("")))
        .collect();
    println!("two_callers line={line} stacks={}", stacks.join(","));
    // Full paths, from the debug info of `debug = "limited"`, the workspace's release profile.
    let first = r.site("tests/scenarios/sites.rs", lines[0].1);
    println!("path={}", first.map_or("missing", |s| s.function.as_str()));
    match r.site("tests/scenarios/sites.rs", inlined) {
        Some(s) => println!("inlined_site verdict={}", s.verdict),
        None => println!("inlined_site line={inlined} missing"),
    }
    println!("frame_test={}", r.frame_test);
}
