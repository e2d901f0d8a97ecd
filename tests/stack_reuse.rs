//! A stack walk reuses what the thread's last stack read of the outer frames only where every
//! word of them is unchanged. Here consecutive allocations come through frames that sit at
//! the same addresses and hold the same words, but for one return address, inner or outer:
//! each stack must keep exactly its own blocks. The oracle is the program's arithmetic.

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

use std::hint::black_box;

use alloc_probe::Report;

/// Allocations per way through.
const EACH: u64 = 500;

#[inline(never)]
fn helper() -> u64 {
    *black_box(Box::new(7u64))
}

/// Calls `helper` from one of two lines: the innermost return address differs.
#[inline(never)]
fn mid(second: bool) -> u64 {
    if black_box(second) {
        black_box(helper()) + 1
    } else {
        black_box(helper()) + 2
    }
}

// Two callers alike in every byte of their frames but their return addresses into them.
#[inline(never)]
fn outer_a() -> u64 {
    black_box(mid(false)) + 3
}

#[inline(never)]
fn outer_b() -> u64 {
    black_box(mid(false)) + 3
}

/// Recurses `depth` frames, then calls `mid`: the inner frames sit deeper or shallower.
#[inline(never)]
fn deep(depth: u32) -> u64 {
    if depth > 0 {
        return black_box(deep(depth - 1)) + 1;
    }
    black_box(mid(false))
}

/// The blocks of the stacks whose site is `helper` and that pass through a frame of every
/// function in `through` (and `times` frames of the first).
fn blocks(r: &Report, through: &[&str], times: usize) -> u64 {
    r.stacks
        .iter()
        .filter(|s| {
            let frames: Vec<String> = r.frames_of(s).iter().map(|f| f.function.clone()).collect();
            let count = |name: &str| frames.iter().filter(|f| f.ends_with(name)).count();
            frames.get(s.site).is_some_and(|f| f.ends_with("::helper"))
                && count(through[0]) == times
                && through[1..].iter().all(|n| count(n) > 0)
        })
        .map(|s| s.allocs)
        .sum()
}

#[test]
fn stacks_alike_but_for_an_outer_return_address_keep_their_own_blocks() {
    for i in 0..2 * EACH {
        black_box(if i % 2 == 0 { outer_a() } else { outer_b() });
    }
    let r = alloc_probe::report();
    assert_eq!(blocks(&r, &["::outer_a", "::mid"], 1), EACH);
    assert_eq!(blocks(&r, &["::outer_b", "::mid"], 1), EACH);
}

#[test]
fn stacks_alike_but_for_the_innermost_return_address_keep_their_own_blocks() {
    let (mut first, mut second) = (0, 0);
    for i in 0..2 * EACH {
        black_box(mid(i % 3 == 0));
        if i % 3 == 0 {
            second += 1;
        } else {
            first += 1;
        }
    }
    let r = alloc_probe::report();
    let by_line: Vec<u64> = {
        let mut v: Vec<(u32, u64)> = r
            .stacks
            .iter()
            .filter_map(|s| {
                let frames = r.frames_of(s);
                let site = frames.get(s.site)?;
                let caller = frames.get(s.site + 1)?;
                let this_test = frames.iter().any(|f| {
                    f.function.ends_with(
                        "stacks_alike_but_for_the_innermost_return_address_keep_their_own_blocks",
                    )
                });
                (site.function.ends_with("::helper")
                    && caller.function.ends_with("::mid")
                    && this_test)
                    .then_some((caller.line, s.allocs))
            })
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, n)| n).collect()
    };
    // `mid`'s first line calls for `second`, so it comes first.
    assert_eq!(by_line, vec![second, first]);
}

#[test]
fn stacks_at_other_depths_keep_their_own_blocks() {
    for i in 0..3 * EACH {
        black_box(deep([3, 5, 4][(i % 3) as usize]));
    }
    let r = alloc_probe::report();
    for depth in [3, 4, 5] {
        // `deep(d)` runs in d + 1 frames.
        assert_eq!(
            blocks(&r, &["::deep", "::mid"], depth + 1),
            EACH,
            "recursion {depth} deep"
        );
    }
}
