//! Counting one event on the general path, inside an update section: on the thread's tally,
//! raising its high-water, or on the fallback tally when the thread has none.

use super::counter::Access;
use super::event::Event;
use super::peak;
use super::solo::{self, Section};
use super::tally::{Tally, FALLBACK};

/// Counts event `e` inside `section`, on the tally of the thread that opened it.
#[inline(always)]
pub(crate) fn count<E: Event>(e: E, section: &Section) {
    match section.tally() {
        Some(t) => {
            let a = section.access();
            if t.count(e, a) {
                peak::past_limit(t, a, t.share.net());
            }
        }
        None => fallback(e),
    }
}

/// [`count`] for a thread without a tally: always shared, under the peak's lock.
#[cold]
#[inline(never)]
fn fallback<E: Event>(e: E) {
    solo::ensure_shared();
    peak::count_fallback(e);
}

/// Counts a call the inner allocator refused, of the thread with tally `t`.
#[cold]
pub(crate) fn count_failed(t: Option<&Tally>) {
    match t {
        Some(t) => t.count_failed(Access::Solo),
        None => FALLBACK.count_failed(Access::Shared),
    }
}
