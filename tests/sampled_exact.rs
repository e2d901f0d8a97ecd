//! `sampled` mode keeps a sampled block's facts out of band (the side table, found through a
//! bitmap on every free). With a gap of one byte, a block of 64 bytes or more is sampled with
//! probability 1 - e^-64, which is 1 in a double, and weighs exactly 1: the estimates are then
//! the exact counts, so every class must come out as it does by construction. A free that
//! missed its record would show as a leak; a realloc that lost it, as a missing realloc.

use std::hint::black_box;
use std::sync::mpsc;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system()
    .with_mode(alloc_probe::Mode::Sampled)
    .with_sample_rate(1);

fn site(line: u32) -> alloc_probe::SiteReport {
    let r = alloc_probe::report();
    r.site(file!(), line)
        .cloned()
        .unwrap_or_else(|| panic!("no site at {}:{line}", file!()))
}

#[inline(never)]
fn freed_in_place(n: usize) -> u32 {
    for i in 0..n {
        let b = black_box(Box::new([i as u8; 64]));
        drop(b);
    }
    line!() - 3
}

#[inline(never)]
fn make(i: usize) -> (Box<[u8; 96]>, u32) {
    (Box::new([i as u8; 96]), line!())
}

#[inline(never)]
fn grown(n: usize) -> u32 {
    for _ in 0..n {
        let mut v: Vec<u8> = black_box(Vec::with_capacity(64));
        v.extend_from_slice(&[7; 64]);
        v.push(1); // 64 -> 128
        v.extend_from_slice(&[7; 100]); // 128 -> 256
        black_box(&v);
    }
    line!() - 6
}

#[inline(never)]
fn held_then_freed(n: usize) -> u32 {
    // Many sampled blocks live at once fill most of the bitmap, so frees of unrelated blocks
    // meet set bits and must tell by the table.
    let held: Vec<Box<[u64; 8]>> = (0..n).map(|i| Box::new([i as u64; 8])).collect();
    let l = line!() - 1;
    for i in 0..n {
        drop(black_box(vec![i as u8; 80]));
    }
    drop(held);
    l
}

#[inline(never)]
fn leaked(n: usize) -> u32 {
    for i in 0..n {
        std::mem::forget(Box::new([i as u8; 128]));
    }
    line!() - 2
}

#[test]
#[cfg_attr(
    windows,
    ignore = "no frame test on Windows x64: its frames form no chain"
)]
fn with_every_block_sampled_the_classes_are_exact() {
    assert_eq!(alloc_probe::mode(), alloc_probe::Mode::Sampled);

    let s = site(freed_in_place(1000));
    assert_eq!((s.allocs, s.bytes), (1000, 64_000), "{s:#?}");
    assert_eq!((s.non_escaping, s.stack_avoidable), (1000, 1000), "{s:#?}");
    assert_eq!((s.escaped, s.leaked, s.temporary), (0, 0, 1000), "{s:#?}");

    let mut line = 0;
    let kept: Vec<_> = (0..500)
        .map(|i| {
            let (b, l) = make(i);
            line = l;
            b
        })
        .collect();
    drop(black_box(kept));
    let s = site(line);
    assert_eq!(
        (s.allocs, s.escaped, s.non_escaping, s.leaked),
        (500, 500, 0, 0),
        "{s:#?}"
    );

    let s = site(grown(200));
    assert_eq!((s.allocs, s.reallocs, s.grown), (200, 400, 200), "{s:#?}");
    assert_eq!(
        (s.bytes, s.max_size),
        (200 * (64 + 128 + 256), 256),
        "{s:#?}"
    );
    assert_eq!(
        (s.non_escaping, s.stack_avoidable, s.leaked),
        (200, 0, 0),
        "{s:#?}"
    );

    // Born in the `map` closure and returned from it: escaped, freed later, not leaked.
    let s = site(held_then_freed(50_000));
    assert_eq!(
        (s.allocs, s.leaked, s.escaped),
        (50_000, 0, 50_000),
        "{s:#?}"
    );
    assert_eq!(s.max_blocks, 50_000, "{s:#?}");

    let s = site(leaked(300));
    assert_eq!(
        (s.allocs, s.leaked, s.leaked_bytes),
        (300, 300, 300 * 128),
        "{s:#?}"
    );
}

#[test]
fn blocks_freed_on_another_thread_are_found() {
    let (tx, rx) = mpsc::channel::<Box<[u8; 200]>>();
    let t = std::thread::spawn(move || {
        for b in rx {
            drop(b);
        }
    });
    let mut line = 0;
    for i in 0..2000 {
        let b = Box::new([i as u8; 200]);
        line = line!() - 1;
        tx.send(b).unwrap();
    }
    drop(tx);
    t.join().unwrap();
    let s = site(line);
    assert_eq!(
        (s.allocs, s.freed_elsewhere, s.leaked),
        (2000, 2000, 0),
        "{s:#?}"
    );
    assert_eq!(s.escaped, 2000, "{s:#?}");
}

#[repr(C, align(64))]
struct Wide([u8; 128]);

#[inline(never)]
fn wide(n: usize) -> u32 {
    for i in 0..n {
        let b = black_box(Box::new(Wide([i as u8; 128])));
        assert_eq!(&*b as *const Wide as usize % 64, 0, "over-aligned as asked");
        drop(b);
    }
    line!() - 4
}

/// A sampled block aligned to at most 8 sits 8 bytes past a multiple of 16 (so that frees of
/// blocks at multiples of 16, every unsampled one from System, need no look-up), with its
/// contents what the caller asked for; an over-aligned one stays as aligned as asked, and its
/// free is found all the same.
#[test]
fn sampled_blocks_sit_apart_and_hold_what_was_asked() {
    for size in [64usize, 100, 4096, 1 << 20] {
        let v = black_box(vec![0u8; size]); // alloc_zeroed
        assert_eq!(
            v.as_ptr() as usize % 16,
            8,
            "a sampled block of {size} bytes"
        );
        assert!(v.iter().all(|&b| b == 0), "zeroed, {size} bytes");
        let mut v = black_box(vec![7u8; size]);
        assert_eq!(v.as_ptr() as usize % 16, 8);
        v.resize(size * 3, 9); // a realloc: the block moves or grows, tagged still
        assert_eq!(v.as_ptr() as usize % 16, 8);
        assert!(v[..size].iter().all(|&b| b == 7) && v[size..].iter().all(|&b| b == 9));
        v.truncate(size / 2);
        v.shrink_to_fit();
        assert_eq!(v.as_ptr() as usize % 16, 8);
        assert!(v.iter().all(|&b| b == 7));
    }

    let s = site(wide(300));
    assert_eq!((s.allocs, s.leaked, s.temporary), (300, 0, 300), "{s:#?}");
}
