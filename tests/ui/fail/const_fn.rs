use alloc_probe::track_allocs;

#[track_allocs]
const fn answer() -> u32 {
    42
}

struct S;

// A block leaves its `const fn`s alone, unless the attribute is on one explicitly.
#[track_allocs]
impl S {
    const fn fine() -> u32 {
        1
    }

    #[track_allocs(max_allocs = 0)]
    const fn explicit() -> u32 {
        2
    }
}

// The item is kept as written: it still works as a `const fn`.
const ANSWER: u32 = answer() + S::fine() + S::explicit();

fn main() {
    let _ = ANSWER;
}
