use alloc_probe::track_allocs;

struct S;

#[track_allocs(name = "all")]
impl S {
    fn a() {}
    fn b() {}
}

#[track_allocs(name = "module")]
mod m {
    pub fn c() {}
}

#[track_allocs]
mod n {
    #[track_allocs(name = "nested", max_allocs = 1)]
    impl super::S {
        fn d() {}
    }
}

fn main() {
    S::a();
    S::b();
    m::c();
}
