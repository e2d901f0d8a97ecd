//! A block's record: where it was born (its program point), on which thread, in which tracked
//! call, when, and whether a reallocation grew it. In `full` mode it is the 16-byte header in
//! front of the block; over-aligned blocks, and every sampled block, keep it in the side table.
//!
//! Two words: `w0 = point id (32) | thread serial (24) << 32 | flags (8) << 56`,
//! `w1 = birth (40 bits of clock ticks / 64) | invocation (24) << 40`.

/// Bytes in front of each `full` mode block.
pub(crate) const HEADER: usize = 16;
const F_IGNORED: u32 = 1;
const F_GROWN: u32 = 4;
const BIRTH_SHIFT: u32 = 6;
const BIRTH_MASK: u64 = (1 << 40) - 1;

#[derive(Clone, Copy, Default)]
pub(crate) struct Header {
    /// The program point's id; 0 when the block could not be recorded.
    pub point: u32,
    /// The serial of the thread it was born on.
    pub thread: u32,
    /// 8 bits kept; a full word here, so that reading it back after it was written is one
    /// store forwarded to one load (a byte store read by a word load stalls the CPU).
    flags: u32,
    /// Clock ticks at birth, shifted to the 40 bits kept.
    birth: u64,
    /// The tracked call it was born in (its invocation), or 0.
    pub invocation: u32,
}

impl Header {
    /// The record of a block born at `point` on thread `thread`, in the tracked call
    /// `invocation`, at clock `now`.
    #[inline(always)]
    pub(crate) fn new(point: u32, thread: u32, invocation: u32, now: u64) -> Header {
        Header {
            point,
            thread,
            flags: 0,
            birth: now >> BIRTH_SHIFT,
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

    /// Ticks from the block's birth to `now` (to the clock's resolution in the record).
    #[inline(always)]
    pub(crate) fn age(self, now: u64) -> u64 {
        ((now >> BIRTH_SHIFT).wrapping_sub(self.birth) & BIRTH_MASK) << BIRTH_SHIFT
    }

    pub(crate) fn encode(self) -> [u64; 2] {
        [
            u64::from(self.point)
                | u64::from(self.thread & 0xFF_FFFF) << 32
                | u64::from(self.flags & 0xFF) << 56,
            (self.birth & BIRTH_MASK) | u64::from(self.invocation & 0xFF_FFFF) << 40,
        ]
    }

    pub(crate) fn decode(w: [u64; 2]) -> Header {
        Header {
            point: w[0] as u32,
            thread: (w[0] >> 32) as u32 & 0xFF_FFFF,
            flags: (w[0] >> 56) as u32,
            birth: w[1] & BIRTH_MASK,
            invocation: (w[1] >> 40) as u32,
        }
    }

    /// The side table's entry for a block with this record and weight `w`.
    pub(crate) fn entry(self, w: u64) -> [u64; 3] {
        let [a, b] = self.encode();
        [a, b, w]
    }

    /// The record and weight of a side-table entry.
    pub(crate) fn from_entry([a, b, w]: [u64; 3]) -> (Header, u64) {
        (Header::decode([a, b]), w)
    }
}
