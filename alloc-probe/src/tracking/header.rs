//! A block's record: where it was born (its program point), on which thread, in which tracked
//! call, when, and whether a reallocation grew it. In `full` mode it is the 24-byte header in
//! front of the block; over-aligned blocks, and every sampled block, keep it in the side table.
//!
//! Three words, each field wide enough never to wrap in a process that runs for years:
//! `w0 = point (32) | thread serial's low 32 bits << 32`, `w1 = birth in clock ticks (56) |
//! flags (8) << 56`, `w2 = invocation (56) | thread serial's high 8 bits << 56`. That is 2^40
//! threads, 2^56 tracked calls, and 2^56 ticks (160 days at 5 GHz). Thread serials and
//! invocation numbers are process-unique.

/// Bytes of the record in front of each `full` mode block.
pub(crate) const HEADER: usize = 24;
const F_IGNORED: u64 = 1;
const F_GROWN: u64 = 4;
const LOW56: u64 = (1 << 56) - 1;
/// The bits of a tracked call's invocation number that a record keeps: a free finds its
/// block's call by these (two running calls 2^56 numbers apart cannot be).
pub(crate) const INVOCATION_BITS: u64 = LOW56;

/// A record as the side table keeps it: the header's three words and the block's weight.
pub(crate) type Record = [u64; 4];

#[derive(Clone, Copy, Default)]
pub(crate) struct Header {
    /// The program point's id; 0 when the block could not be recorded.
    pub point: u32,
    /// A full word, so that reading it back after it was written is one store forwarded to
    /// one load (a byte store read by a word load stalls the CPU).
    flags: u64,
    /// The serial of the thread it was born on.
    pub thread: u64,
    /// Clock ticks at birth.
    birth: u64,
    /// The tracked call it was born in (its invocation), or 0.
    pub invocation: u64,
}

impl Header {
    /// The record of a block born at `point` on thread `thread`, in the tracked call
    /// `invocation`, at clock `now`.
    #[inline(always)]
    pub(crate) fn new(point: u32, thread: u64, invocation: u64, now: u64) -> Header {
        Header {
            point,
            thread,
            flags: 0,
            birth: now,
            invocation,
        }
    }

    /// The header of a block alloc-probe allocated for itself (see `sys::guard`).
    pub(crate) fn ignored() -> Header {
        Header {
            flags: F_IGNORED,
            ..Header::default()
        }
    }

    pub(crate) fn is_ignored(self) -> bool {
        self.flags & F_IGNORED != 0
    }

    /// Whether a program point records the block (false when it could not be recorded).
    pub(crate) fn recorded(self) -> bool {
        self.point != 0
    }

    /// Whether a reallocation made the block larger.
    pub(crate) fn grown(self) -> bool {
        self.flags & F_GROWN != 0
    }

    pub(crate) fn set_grown(&mut self) {
        self.flags |= F_GROWN;
    }

    /// Ticks from the block's birth to `now`, for ages up to 2^55 ticks (80 days at 5 GHz);
    /// 0 if `now` is earlier (a clock read on another thread before this block's birth was
    /// recorded, see `record::freed`).
    #[inline(always)]
    pub(crate) fn age(self, now: u64) -> u64 {
        let d = now.wrapping_sub(self.birth) & LOW56;
        if d >> 55 == 0 {
            d
        } else {
            0
        }
    }

    #[inline(always)]
    pub(crate) fn encode(self) -> [u64; 3] {
        [
            u64::from(self.point) | self.thread << 32,
            self.birth & LOW56 | self.flags << 56,
            self.invocation & LOW56 | (self.thread >> 32) << 56,
        ]
    }

    #[inline(always)]
    pub(crate) fn decode(w: [u64; 3]) -> Header {
        Header {
            point: w[0] as u32,
            flags: w[1] >> 56,
            thread: w[0] >> 32 | (w[2] >> 56) << 32,
            birth: w[1] & LOW56,
            invocation: w[2] & LOW56,
        }
    }

    /// The side table's record of a block with this header and weight `w`.
    pub(crate) fn entry(self, w: u64) -> Record {
        let [a, b, c] = self.encode();
        [a, b, c, w]
    }

    /// The header and weight of a side-table record.
    pub(crate) fn from_entry([a, b, c, w]: Record) -> (Header, u64) {
        (Header::decode([a, b, c]), w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_wide_fields() {
        // Past what 24-bit serials and invocations and a 40-bit clock kept.
        let mut h = Header::new(u32::MAX - 3, (1 << 40) - 5, (1 << 56) - 7, 1 << 62);
        h.set_grown();
        let (back, w) = Header::from_entry(h.entry(9));
        assert_eq!(w, 9);
        assert_eq!(
            (back.point, back.thread, back.invocation),
            (u32::MAX - 3, (1 << 40) - 5, (1 << 56) - 7)
        );
        assert!(back.grown() && !back.is_ignored() && back.recorded());
        // Ages past the stored clock's wrap, and a clock read before the birth.
        let week = 7 * 24 * 3600 * 5_000_000_000u64;
        assert_eq!(back.age((1 << 62) + 3 * week), 3 * week);
        assert_eq!(back.age((1 << 62) - 1000), 0);
        assert!(Header::decode(Header::ignored().encode()).is_ignored());
    }
}
