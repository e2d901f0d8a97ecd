use alloc_probe::track_allocs;

#[track_allocs]
struct Config {
    size: usize,
}

#[track_allocs]
enum Mode {
    Fast,
}

#[track_allocs]
static TABLE: [u8; 2] = [1, 2];

#[track_allocs]
type Alias = Vec<u8>;

#[track_allocs]
trait Plugin {
    fn required(&self);

    #[track_allocs(max_allocs = 1)]
    fn also_required(&self);

    #[track_allocs]
    const ID: u32;
}

#[track_allocs]
mod inner {
    #[track_allocs(max_allocs = 1)]
    pub struct Nested;

    #[track_allocs]
    pub const N: u32 = 1;
}

struct S;

#[track_allocs]
impl S {
    #[track_allocs]
    const C: u8 = 0;
}

fn main() {
    let _ = (
        Config { size: 0 }.size,
        Mode::Fast,
        TABLE,
        Alias::new(),
        inner::Nested,
        inner::N,
        S::C,
    );
}
