//! The whole process's counts: every tally summed, at one instant.

use std::sync::atomic::{fence, Ordering::Acquire};

use super::peak;
use super::solo;
use super::stats::Stats;
use super::tally::{self, Counts, FALLBACK};

/// Whole-process totals: every tally plus the fallback's, and the peak.
pub(crate) fn totals() -> Stats {
    let (sum, consistent) = if solo::shared() {
        // Once threads share, the reading is taken with the books settled around it (see
        // `peak::settled`), so that it is of one instant. Refused calls are left out of the
        // comparison: a thread whose every call is refused would change them forever.
        let mut sum = peak::settled(|| Counts {
            failed: 0,
            ..read()
        });
        sum.failed = read().failed;
        (sum, true)
    } else {
        // Every counter only grows, so two equal readings mean that nothing changed in
        // between: the figures of one instant. Threads that keep allocating may prevent that;
        // after a few tries the last reading stands, each figure exact but not all from one
        // instant.
        let mut sum = read();
        let mut consistent = false;
        for _ in 0..8 {
            let again = read();
            if again == sum {
                consistent = true;
                break;
            }
            sum = again;
        }
        (sum, consistent)
    };
    let mut st = sum.since(&Counts::default(), 0);
    st.peak_live_bytes = peak::peak();
    if consistent {
        // The solo writer, half-way through an event, may have counted it before raising the
        // peak, which it is about to do: the live bytes of one instant are a peak it reached.
        // (Not those of a reading pieced from several moments, which may never have existed.)
        st.peak_live_bytes = st.peak_live_bytes.max(st.live_bytes);
    }
    st
}

/// Every tally's counts plus the fallback's, read one after another, then fenced: counts are
/// stored released (see `Counter::add`), so a later reading sees every count made before any
/// count this one saw, and two equal readings are of one instant even on a weakly ordered
/// processor, where loads of different counters may otherwise be answered out of order.
fn read() -> Counts {
    let mut sum = FALLBACK.counts();
    for t in tally::all() {
        sum.add(&t.counts());
    }
    fence(Acquire);
    sum
}
