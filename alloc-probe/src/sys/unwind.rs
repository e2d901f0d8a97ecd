//! The DWARF unwinder, for stacks through functions built without frame pointers: it reads the
//! `.eh_frame` tables (present in every Rust binary, and in C libraries built with unwind
//! tables).
//!
//! On x86-64 Linux the rules that find a frame's caller (where its canonical frame address
//! is, and where the return address and the caller's frame pointer were saved) are read once
//! per return address, with libgcc's `_Unwind_Find_FDE` and gimli, and kept in the thread's
//! [`Rules`]: a walk then costs a lookup and two loads a frame. A rule that is not a plain
//! offset (a DWARF expression) hands the walk to libgcc's `_Unwind_Backtrace`, which
//! interprets the tables on every call (microseconds a stack), as it does elsewhere.
//!
//! Both are safe in the allocator path: libgcc finds unwind tables through `_dl_find_object`
//! (glibc 2.35 and later) or `dl_iterate_phdr`, and neither allocates through us (any memory
//! libgcc wants comes from libc's `malloc`, never from the Rust global allocator; gimli's
//! context here lives on the stack).
//!
//! Elsewhere the system's unwinder walks every time, through the `backtrace` crate's
//! unsynchronised trace, which allocates nothing: libunwind on macOS, `RtlVirtualUnwind` over
//! the PE's unwind tables on Windows.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod ffi {
    use std::ffi::{c_int, c_void};

    pub type Context = c_void;
    pub type Trace = extern "C" fn(ctx: *mut Context, arg: *mut c_void) -> c_int;
    pub const NO_REASON: c_int = 0;
    pub const NORMAL_STOP: c_int = 4;
    pub const END_OF_STACK: c_int = 5;

    extern "C" {
        pub fn _Unwind_Backtrace(trace: Trace, arg: *mut c_void) -> c_int;
        pub fn _Unwind_GetIP(ctx: *mut Context) -> usize;
        pub fn _Unwind_GetCFA(ctx: *mut Context) -> usize;
        pub fn _Unwind_GetGR(ctx: *mut Context, index: c_int) -> usize;
    }

    /// The frame-pointer register's DWARF number (rbp, x29); none elsewhere.
    pub const FP: Option<c_int> = if cfg!(target_arch = "x86_64") {
        Some(6)
    } else if cfg!(target_arch = "aarch64") {
        Some(29)
    } else {
        None
    };
}

/// Whether rules are read and cached here (see the module's notes).
const CACHED: bool = cfg!(all(
    target_os = "linux",
    target_env = "gnu",
    target_arch = "x86_64"
));

/// Entries of a thread's [`Rules`]: a power of two (none where nothing is cached).
const RULES: usize = if CACHED { 1024 } else { 0 };

/// A thread's rules for finding callers, by return address (see the module's notes). Sets of
/// two entries, the one used last first, so that two addresses of one set that a stack uses
/// in turn do not evict each other; all zero where empty (it starts zeroed, in the thread's
/// tracking state).
#[cfg_attr(
    not(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64")),
    allow(dead_code)
)]
pub(crate) struct Rules([(usize, u64); RULES]);

/// How to find the caller of the frame running at some address, packed into a word: the
/// canonical frame address is `rsp` or `rbp` plus an offset; the return address is saved just
/// below it; the caller's `rbp` is saved at an offset from it, or is the same.
#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Rule {
    /// The frame has no caller (the return address is undefined: a thread's entry).
    outermost: bool,
    from_rbp: bool,
    cfa_offset: i32,
    /// Where `rbp` was saved, from the CFA; `None` if it is unchanged.
    rbp_at: Option<i16>,
}

#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
impl Rule {
    const VALID: u64 = 1;
    const FROM_RBP: u64 = 2;
    const RBP_SAVED: u64 = 4;
    const OUTERMOST: u64 = 8;

    fn pack(self) -> u64 {
        let mut w = Self::VALID | (self.cfa_offset as u32 as u64) << 32;
        if self.outermost {
            w |= Self::OUTERMOST;
        }
        if self.from_rbp {
            w |= Self::FROM_RBP;
        }
        if let Some(at) = self.rbp_at {
            w |= Self::RBP_SAVED | (at as u16 as u64) << 16;
        }
        w
    }

    fn unpack(w: u64) -> Option<Rule> {
        (w & Self::VALID != 0).then(|| Rule {
            outermost: w & Self::OUTERMOST != 0,
            from_rbp: w & Self::FROM_RBP != 0,
            cfa_offset: (w >> 32) as u32 as i32,
            rbp_at: (w & Self::RBP_SAVED != 0).then_some((w >> 16) as u16 as i16),
        })
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
impl Rules {
    /// The rule at `ip` (`lookup` is the address whose unwind row applies: a return
    /// address less one, where the call was); `None` where there is none to use.
    #[inline(always)]
    fn get(&mut self, ip: usize, lookup: usize) -> Option<Rule> {
        let i = ((ip as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize & (RULES - 2);
        if self.0[i].0 != ip {
            let found = if self.0[i + 1].0 == ip {
                self.0[i + 1]
            } else {
                (ip, find_rule(lookup).map_or(0, Rule::pack))
            };
            self.0[i + 1] = self.0[i];
            self.0[i] = found;
        }
        Rule::unpack(self.0[i].1)
    }
}

/// Reads the unwind row that applies at `addr` from the `.eh_frame` of its object.
#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
#[cold]
#[inline(never)]
fn find_rule(addr: usize) -> Option<Rule> {
    use gimli::{
        BaseAddresses, CfaRule, EhFrame, EhFrameOffset, NativeEndian, ReaderOffset, Register,
        RegisterRule, UnwindContext, UnwindContextStorage, UnwindSection, UnwindTableRow, X86_64,
    };

    /// gimli's state for one row, on the stack.
    struct OnStack;
    impl<T: ReaderOffset> UnwindContextStorage<T> for OnStack {
        type Rules = [(Register, RegisterRule<T>); 32];
        type Stack = [UnwindTableRow<T, Self>; 4];
    }

    let (fde, bases) = find_fde(addr)?;
    // SAFETY: an FDE starts with its 32-bit length and the 32-bit distance back to its CIE,
    // both inside the mapped `.eh_frame`.
    let (len, cie_back) = unsafe {
        (
            (fde as *const u32).read_unaligned(),
            (fde.add(4) as *const u32).read_unaligned(),
        )
    };
    if len == 0 || len == u32::MAX {
        return None; // a terminator, or a 64-bit length (never emitted on x86-64 Linux)
    }
    // The section as gimli sees it: from the CIE to the end of the FDE.
    let cie = (fde as usize + 4).checked_sub(cie_back as usize)?;
    let end = fde as usize + 4 + len as usize;
    // SAFETY: the CIE precedes the FDE in the same mapped section.
    let data = unsafe { std::slice::from_raw_parts(cie as *const u8, end - cie) };
    let eh_frame = EhFrame::new(data, NativeEndian);
    let bases = BaseAddresses::default()
        .set_eh_frame(cie as u64)
        .set_text(bases.tbase as u64)
        .set_got(bases.dbase as u64);
    let fde = eh_frame
        .fde_from_offset(
            &bases,
            EhFrameOffset(fde as usize - cie),
            EhFrame::cie_from_offset,
        )
        .ok()?;
    let mut ctx = UnwindContext::<usize, OnStack>::new_in();
    let row = fde
        .unwind_info_for_address(&eh_frame, &bases, &mut ctx, addr as u64)
        .ok()?;
    let (from_rbp, cfa_offset) = match *row.cfa() {
        CfaRule::RegisterAndOffset { register, offset } if register == X86_64::RSP => {
            (false, i32::try_from(offset).ok()?)
        }
        CfaRule::RegisterAndOffset { register, offset } if register == X86_64::RBP => {
            (true, i32::try_from(offset).ok()?)
        }
        _ => return None,
    };
    // The return address is where the call pushed it, just below the CFA; undefined in
    // the outermost frame.
    let outermost = match row.register(X86_64::RA) {
        Some(RegisterRule::Offset(-8)) => false,
        Some(RegisterRule::Undefined) => true,
        _ => return None,
    };
    let rbp_at = match row.register(X86_64::RBP) {
        None | Some(RegisterRule::SameValue) => None,
        Some(RegisterRule::Offset(o)) => Some(i16::try_from(o).ok()?),
        Some(_) => return None,
    };
    Some(Rule {
        outermost,
        from_rbp,
        cfa_offset,
        rbp_at,
    })
}

/// An object's bases as libgcc gives them with an FDE: its text, its data, and the FDE's
/// first address (its function's start).
#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
#[repr(C)]
struct Bases {
    tbase: usize,
    dbase: usize,
    func: usize,
}

#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
extern "C" {
    fn _Unwind_Find_FDE(pc: usize, bases: *mut Bases) -> *const u8;
}

/// The FDE covering `addr` in a loaded object's `.eh_frame`, and the object's bases.
#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
fn find_fde(addr: usize) -> Option<(*const u8, Bases)> {
    let mut bases = Bases {
        tbase: 0,
        dbase: 0,
        func: 0,
    };
    // SAFETY: libgcc's lookup of the FDE covering `addr`; it writes `bases` and returns null
    // or a pointer into a loaded object's `.eh_frame`.
    let fde = unsafe { _Unwind_Find_FDE(addr, &mut bases) };
    (!fde.is_null()).then_some((fde, bases))
}

/// The start of the function whose code holds `addr`, from its unwind table entry: what names
/// a line where the debug info has none for an address (see `report::symbols`).
#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
pub(crate) fn function_start(addr: usize) -> Option<usize> {
    find_fde(addr).map(|(_, b)| b.func).filter(|&f| f != 0)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64")))]
pub(crate) fn function_start(_addr: usize) -> Option<usize> {
    None
}

/// [`walk`] with `rules`, reading only inside the stack `lo..hi`: each frame's caller by its
/// cached rule while there is one, then libgcc's walk from there on if the stack goes on.
/// Frames are given as `walk` gives them. `None` where there is no unwinder.
#[inline(never)]
pub(crate) fn walk_with<F: FnMut(usize, usize, usize) -> bool>(
    rules: &mut Rules,
    lo: usize,
    hi: usize,
    f: F,
) -> Option<bool> {
    #[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
    {
        let mut f = f;
        let (mut ip, mut sp, mut bp): (usize, usize, usize);
        // SAFETY: reads the instruction pointer (of the next instruction, in this function),
        // the stack pointer and rbp; touches no memory.
        unsafe {
            std::arch::asm!(
                "lea {ip}, [rip]",
                "mov {sp}, rsp",
                "mov {bp}, rbp",
                ip = out(reg) ip,
                sp = out(reg) sp,
                bp = out(reg) bp,
                options(nomem, nostack, preserves_flags),
            );
        }
        let readable = |a: usize| a >= lo && a.is_multiple_of(8) && a.saturating_add(8) <= hi;
        let mut lookup = ip;
        loop {
            let Some(rule) = rules.get(ip, lookup) else {
                // No rule to use here: libgcc walks the stack instead (it cannot start
                // mid-stack), passing on only the frames not passed on yet: from the one
                // running at `ip`, whose callee's CFA is `sp`.
                return walk(|ip, cfa, fp| cfa < sp || f(ip, cfa, fp));
            };
            let base = if rule.from_rbp { bp } else { sp };
            let cfa = base.wrapping_add(rule.cfa_offset as isize as usize);
            if !readable(cfa.wrapping_sub(8)) || cfa <= sp {
                return Some(false);
            }
            // As libgcc's contexts do, the frame running `ip` is given with its callee's
            // CFA, which is the stack pointer here, and its own rbp.
            if !f(ip, sp, bp) {
                return Some(false);
            }
            if rule.outermost {
                return Some(true);
            }
            // SAFETY: inside this thread's stack, aligned (checked above).
            let ra = unsafe { *((cfa - 8) as *const usize) };
            if let Some(at) = rule.rbp_at {
                let a = cfa.wrapping_add(at as isize as usize);
                if !readable(a) {
                    return Some(false);
                }
                // SAFETY: as above.
                bp = unsafe { *(a as *const usize) };
            }
            if ra == 0 {
                return Some(true);
            }
            sp = cfa;
            ip = ra;
            lookup = ra - 1;
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64")))]
    {
        let _ = (rules, lo, hi);
        walk(f)
    }
}

/// Unwinds the calling stack: calls `f(ip, cfa, fp)` for each frame, from `walk`'s own frame
/// outwards, until `f` returns false. A frame comes as libgcc's context gives it: the address
/// it will resume at, the canonical frame address (CFA) of the frame it called, the one `ip`
/// returns from, and the frame-pointer register in the frame running `ip`: its frame record,
/// if it has one (0 where the unwinder does not tell).
/// Returns whether the unwinder reached the end of the stack; `None` where there is no
/// unwinder.
#[inline(never)]
pub(crate) fn walk<F: FnMut(usize, usize, usize) -> bool>(mut f: F) -> Option<bool> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" fn step<F: FnMut(usize, usize, usize) -> bool>(
            ctx: *mut ffi::Context,
            arg: *mut std::ffi::c_void,
        ) -> std::ffi::c_int {
            // SAFETY: `arg` is the `F` that `walk` passed, alive for the whole call.
            let f = unsafe { &mut *(arg as *mut F) };
            // SAFETY: `ctx` is the unwinder's context for the current frame.
            let (ip, cfa) = unsafe { (ffi::_Unwind_GetIP(ctx), ffi::_Unwind_GetCFA(ctx)) };
            // SAFETY: as above; the register number is the target's frame pointer.
            let fp = ffi::FP.map_or(0, |r| unsafe { ffi::_Unwind_GetGR(ctx, r) });
            if f(ip, cfa, fp) {
                ffi::NO_REASON
            } else {
                ffi::NORMAL_STOP
            }
        }
        // SAFETY: `step::<F>` matches the callback type and only touches `f`, which outlives
        // the call.
        let r = unsafe { ffi::_Unwind_Backtrace(step::<F>, &mut f as *mut F as *mut _) };
        Some(r == ffi::END_OF_STACK)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        // The trace starts in the backtrace crate's own functions, called from here: frames
        // below this one's stack pointer are theirs.
        let here = super::stack::stack_pointer();
        let mut stopped = false;
        // SAFETY: no other trace or symbolisation runs on this thread meanwhile (the
        // allocator path is not reentrant, and reports hold the guard that keeps it out).
        unsafe {
            backtrace::trace_unsynchronized(|frame| {
                let (ip, sp) = (frame.ip() as usize, frame.sp() as usize);
                if sp < here {
                    return true;
                }
                stopped = !f(ip, sp, 0);
                !stopped
            })
        };
        Some(!stopped)
    }
}
