//! From a program point's raw counters to its classes, and from a site's classes to a verdict
//! with its reason.
//!
//! The classes (a contract, documented in the README):
//! * **non-escaping**: freed before the function that allocated it returned. Inside a
//!   `#[track_allocs]` call that function is the call, matched by invocation on whichever
//!   thread frees the block; elsewhere it is the site's frame, on the block's own thread,
//!   tested by frame address and saved return address.
//! * **stack-avoidable**: non-escaping, never grown, and no larger than the stack limit.
//! * **escaped**: every other block: freed after the function returned, freed on another
//!   thread (outside its tracked call), or not freed (yet).
//! * **temporary**: freed as the very next allocator event of its thread (heaptrack's
//!   definition; a realloc's release of the old address counts too).
//! * **leaked**: still live when the report is made.

use super::units::{percent, Bytes};
use crate::tracking::points::{Point, IN_CALL};

/// A point's figures, unweighted to whole (estimated, in `sampled` mode) counts.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Classes {
    pub blocks: u64,
    pub bytes: u64,
    pub reallocs: u64,
    pub grown: u64,
    pub non_escaping: u64,
    /// Non-escaping blocks matched to the tracked call they were born in; the rest rest on
    /// the frame test.
    pub in_call: u64,
    pub stack_avoidable: u64,
    pub escaped: u64,
    pub temporary: u64,
    pub leaked: u64,
    pub leaked_bytes: u64,
    pub freed_elsewhere: u64,
    pub lifetime_ticks: u64,
    pub gmax_blocks: u64,
    pub gmax_bytes: u64,
    pub max_blocks: u64,
    pub max_bytes: u64,
    pub min_size: u64,
    pub max_size: u64,
}

/// Classifies a point's blocks, given the index of its site's physical frame, the current
/// peak epoch, and the weight unit of the mode.
pub(crate) fn classify(p: &Point, site_frame: usize, epoch: u64, unit: u64) -> Classes {
    let c = &p.c;
    let w = |v: u64| (v + unit / 2) / unit;
    // Blocks that stayed inside the site's frame: freed while it, or a frame inside it, ran.
    let (mut stayed, mut small, mut in_call) = (0u64, 0u64, 0u64);
    for (k, e) in p.stayed.entries() {
        if k == IN_CALL || k as usize <= site_frame {
            stayed += e.all.get();
            small += e.small.get();
        }
        if k == IN_CALL {
            in_call += e.all.get();
        }
    }
    let blocks = w(c.blocks.get());
    let non_escaping = w(stayed).min(blocks);
    let stack_avoidable = w(small).min(non_escaping);
    let at_peak = c.change_epoch.get() < epoch;
    let (gmax_blocks, gmax_bytes) = if at_peak {
        (c.live(), c.curr_bytes.get())
    } else {
        (c.gmax_blocks.get(), c.gmax_bytes.get())
    };
    let min_size = c.min_size.get();
    Classes {
        blocks,
        bytes: w(c.bytes.get()),
        reallocs: w(c.reallocs.get()),
        grown: w(c.grown.get()),
        non_escaping,
        in_call: w(in_call).min(non_escaping),
        stack_avoidable,
        escaped: blocks - non_escaping,
        temporary: w(c.temporary.get()),
        leaked: w(c.live()),
        leaked_bytes: w(c.curr_bytes.get()),
        freed_elsewhere: w(c.freed_elsewhere.get()),
        lifetime_ticks: w(c.lifetime_ticks.get()),
        gmax_blocks: w(gmax_blocks),
        gmax_bytes: w(gmax_bytes),
        max_blocks: w(c.max_blocks.get()),
        max_bytes: w(c.max_bytes.get()),
        min_size: if min_size == u64::MAX { 0 } else { min_size },
        max_size: c.max_size.get(),
    }
}

impl Classes {
    pub(crate) fn add(&mut self, o: &Classes) {
        // 0 means "no block seen", not a size.
        self.min_size = match (self.min_size, o.min_size) {
            (0, b) => b,
            (a, 0) => a,
            (a, b) => a.min(b),
        };
        self.max_size = self.max_size.max(o.max_size);
        self.blocks += o.blocks;
        self.bytes += o.bytes;
        self.reallocs += o.reallocs;
        self.grown += o.grown;
        self.non_escaping += o.non_escaping;
        self.in_call += o.in_call;
        self.stack_avoidable += o.stack_avoidable;
        self.escaped += o.escaped;
        self.temporary += o.temporary;
        self.leaked += o.leaked;
        self.leaked_bytes += o.leaked_bytes;
        self.freed_elsewhere += o.freed_elsewhere;
        self.lifetime_ticks += o.lifetime_ticks;
        self.gmax_blocks += o.gmax_blocks;
        self.gmax_bytes += o.gmax_bytes;
        self.max_blocks += o.max_blocks;
        self.max_bytes += o.max_bytes;
    }
}

/// What a site's blocks say, as a verdict and its reason.
pub(crate) struct Verdict {
    pub kind: &'static str,
    pub text: String,
}

/// A rounded percentage, 0 of nothing.
fn pct(part: u64, whole: u64) -> u64 {
    percent(part, whole).unwrap_or(0)
}

fn sizes(c: &Classes) -> String {
    if c.min_size == c.max_size {
        format!("{}", Bytes(c.max_size))
    } else {
        format!("{}..{}", Bytes(c.min_size), Bytes(c.max_size))
    }
}

/// What a site's non-escaping blocks were found by, in short names: the site's function, the
/// tracked function whose calls they were matched to, and the function the site's was inlined
/// into (whose frame the frame test then tested).
pub(crate) struct Evidence<'a> {
    pub func: &'a str,
    pub call: Option<&'a str>,
    pub host: Option<&'a str>,
}

impl Evidence<'_> {
    /// Where the blocks were freed, and on what evidence: "freed inside its call to f,
    /// tracked" (exact), "freed in f, frame test", or both with their shares.
    fn freed(&self, c: &Classes) -> String {
        let tracked = format!(
            "freed inside its call to {}, tracked",
            self.call.unwrap_or(self.func)
        );
        let tested = match self.host {
            Some(host) => format!(
                "freed in {host}, frame test ({} is inlined there)",
                self.func
            ),
            None => format!("freed in {}, frame test", self.func),
        };
        let by_frame = c.non_escaping - c.in_call.min(c.non_escaping);
        match (c.in_call, by_frame) {
            (_, 0) => tracked,
            (0, _) => tested,
            (n, m) => {
                let all = c.non_escaping.max(1);
                format!("{tracked} {}%; {tested} {}%", pct(n, all), pct(m, all))
            }
        }
    }
}

/// Why a report has no frame test: Windows x64 frames form no chain to walk, whatever the
/// build; elsewhere the build lacks frame pointers.
pub(crate) const NO_FRAME_TEST: &str = if cfg!(windows) {
    "no frame test on Windows x64"
} else {
    "built without frame pointers"
};

/// The verdict for a site, from its classes and the evidence its non-escaping blocks rest on.
/// Without the frame test (`frame_test` false: built without frame pointers), a block freed
/// on its own thread outside a tracked call counts as escaped, though it may not have: such
/// blocks make the verdict `unknown`.
pub(crate) fn verdict(
    c: &Classes,
    evidence: &Evidence,
    stack_limit: u64,
    frame_test: bool,
) -> Verdict {
    let func = evidence.func;
    let b = c.blocks.max(1);
    let half = |n: u64| n.saturating_mul(2) >= b && n > 0;
    if half(c.stack_avoidable) {
        return Verdict {
            kind: "stack-avoidable",
            text: format!(
                "stack-avoidable ({}/{}, {}, {})",
                c.stack_avoidable,
                c.blocks,
                sizes(c),
                evidence.freed(c)
            ),
        };
    }
    if half(c.non_escaping) && c.grown > 0 {
        return Verdict {
            kind: "reusable-buffer",
            text: format!(
                "reusable buffer (non-escaping, {}, but reallocated {:.1} times per block: use \
                 with_capacity or reuse it)",
                evidence.freed(c),
                c.reallocs as f64 / b as f64
            ),
        };
    }
    if half(c.non_escaping) {
        return Verdict {
            kind: "non-escaping",
            text: format!(
                "non-escaping ({}/{}, {}) but up to {} > stack limit {}: reuse the buffer",
                c.non_escaping,
                c.blocks,
                evidence.freed(c),
                Bytes(c.max_size),
                Bytes(stack_limit)
            ),
        };
    }
    if half(c.leaked) {
        return Verdict {
            kind: "leaked",
            text: format!(
                "leaked ({} block{}, {} still live at the report)",
                c.leaked,
                if c.leaked == 1 { "" } else { "s" },
                Bytes(c.leaked_bytes)
            ),
        };
    }
    if half(c.escaped) {
        let after_return = c
            .escaped
            .saturating_sub(c.freed_elsewhere)
            .saturating_sub(c.leaked);
        if !frame_test && half(after_return) {
            return Verdict {
                kind: "unknown",
                text: format!(
                    "unknown (freed on its own thread {}%; whether before {func} returned is \
                     unknown: {NO_FRAME_TEST})",
                    pct(after_return, b)
                ),
            };
        }
        let mut parts = Vec::new();
        for (n, what) in [
            (after_return, "freed after it returned"),
            (c.freed_elsewhere, "freed on another thread"),
            (c.leaked, "still live"),
        ] {
            if n > 0 {
                parts.push(format!("{what} {}%", pct(n, b)));
            }
        }
        return Verdict {
            kind: "escapes",
            text: format!("escapes (outlives {func}: {})", parts.join(", ")),
        };
    }
    Verdict {
        kind: "mixed",
        text: format!(
            "mixed (non-escaping {}%, escaped {}%)",
            pct(c.non_escaping, b),
            pct(c.escaped, b)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Evidence = Evidence {
        func: "f",
        call: None,
        host: None,
    };

    /// 10 blocks freed on their own thread and not found non-escaping, 2 sent away.
    fn freed_at_home() -> Classes {
        Classes {
            blocks: 12,
            escaped: 12,
            freed_elsewhere: 2,
            min_size: 8,
            max_size: 8,
            ..Classes::default()
        }
    }

    #[test]
    fn without_the_frame_test_blocks_freed_at_home_are_unknown() {
        let v = verdict(&freed_at_home(), &F, 4096, false);
        assert_eq!(v.kind, "unknown");
        assert!(v.text.contains("own thread 83%"), "{}", v.text);
        assert!(v.text.contains(NO_FRAME_TEST), "{}", v.text);
    }

    #[test]
    fn with_the_frame_test_they_escaped() {
        let v = verdict(&freed_at_home(), &F, 4096, true);
        assert_eq!(v.kind, "escapes");
        assert!(v.text.contains("freed after it returned 83%"), "{}", v.text);
    }

    #[test]
    fn blocks_sent_away_escaped_either_way() {
        let c = Classes {
            freed_elsewhere: 12,
            ..freed_at_home()
        };
        assert_eq!(verdict(&c, &F, 4096, false).kind, "escapes");
    }
}
