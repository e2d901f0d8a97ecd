use alloc_probe::track_allocs;

#[track_allocs]
#[track_allocs(max_allocs = 1)]
fn twice() {}

struct S;

#[track_allocs]
impl S {
    #[track_allocs(max_allocs = 1)]
    #[alloc_probe::track_allocs(enforce = false)]
    fn twice_inside() {}

    #[track_allocs = "fast"]
    fn name_value() {}
}

fn main() {
    twice();
    S::twice_inside();
    S::name_value();
}
