//! `sampled` mode with an inner allocator that refuses: a sampled block whose realloc is
//! refused stays where it was, still tracked (its record is put back), and its free is found.

use std::alloc::Layout;
use std::hint::black_box;

#[path = "support/refusing.rs"]
mod refusing;

#[global_allocator]
static ALLOC: alloc_probe::Probe<refusing::Refusing> = alloc_probe::Probe::new(refusing::Refusing)
    .with_mode(alloc_probe::Mode::Sampled)
    .with_sample_rate(1);

#[inline(never)]
fn refused_growth() -> u32 {
    let mut v: Vec<u8> = black_box(Vec::with_capacity(100));
    let line = line!() - 1;
    v.extend_from_slice(&[1; 100]);
    assert!(
        v.try_reserve_exact(2 << 30).is_err(),
        "the realloc is refused"
    );
    v.push(2); // 100 -> 200: a realloc that succeeds, from the block's old place
    black_box(&v);
    line
}

#[test]
fn a_refused_realloc_keeps_the_sampled_block_tracked() {
    let (line, s) = alloc_probe::measure(refused_growth);
    assert_eq!(
        (s.allocs, s.reallocs, s.failed, s.deallocs),
        (1, 1, 1, 1),
        "{s:?}"
    );
    let r = alloc_probe::report();
    let site = r.site(file!(), line).expect("the vector's site");
    assert_eq!(
        (site.allocs, site.reallocs, site.grown),
        (1, 1, 1),
        "{site:#?}"
    );
    // Without a frame test (Windows x64), a block freed on its thread outside a tracked call
    // counts as escaped.
    let frame_test = u64::from(!cfg!(windows));
    assert_eq!(
        (site.leaked, site.non_escaping),
        (0, frame_test),
        "{site:#?}"
    );
    assert_eq!(site.max_size, 200, "{site:#?}");

    // A refused allocation counts only as failed, and nothing is sampled.
    let ((), s) = alloc_probe::measure(|| {
        // SAFETY: a valid non-zero layout; the null result is checked.
        let p = unsafe { std::alloc::alloc(Layout::from_size_align(3 << 30, 8).unwrap()) };
        assert!(p.is_null());
    });
    assert_eq!((s.allocs, s.failed), (0, 1), "{s:?}");
}

#[test]
fn each_refused_request_asks_the_inner_allocator_once() {
    use std::sync::atomic::Ordering::Relaxed;
    // Every block is sampled, so every request goes the padded way first.
    let before = refusing::REFUSED.load(Relaxed);
    let ((), s) = alloc_probe::measure(|| {
        for size in [3usize << 30, (1 << 30) + 1, (1 << 30) - 4] {
            for zeroed in [false, true] {
                let l = Layout::from_size_align(size, 8).unwrap();
                // SAFETY: a valid non-zero layout; a block we get is freed with it.
                unsafe {
                    let p = if zeroed {
                        std::alloc::alloc_zeroed(l)
                    } else {
                        std::alloc::alloc(l)
                    };
                    if !p.is_null() {
                        std::alloc::dealloc(p, l);
                    }
                }
            }
        }
    });
    let refused = refusing::REFUSED.load(Relaxed) - before;
    // The last size fits the inner allocator's limit only without the sampled block's tag:
    // the program's request is refused as the tagged one was.
    assert_eq!((s.failed, refused, s.allocs), (6, 6, 0), "{s:?}");
}
