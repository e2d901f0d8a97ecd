//! Turns captured return addresses into functions, files and lines, once per unique address,
//! only when a report is made. Inlined calls come back as separate frames, so a `Box::new`
//! inlined into a release build still reports the user's line (given line tables:
//! `debug = "line-tables-only"` or more; `debug = "limited"` adds the functions' full paths).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::names::plain_fn;
use crate::sys::unwind;

/// Held around each call into `backtrace`, whose own lock a child of `fork` would inherit
/// held, forever, if another thread was resolving then: `fork` takes this one first (see
/// `process::fork`), so that none of alloc-probe's threads is inside `backtrace` when it runs.
/// A mutex, not a spin lock: a first resolution parses debug info for a while, and allocates.
static RESOLVING: Mutex<()> = Mutex::new(());

thread_local! {
    /// The guard the thread calling `fork` holds from before the fork to after it.
    static HELD: RefCell<Option<MutexGuard<'static, ()>>> = const { RefCell::new(None) };
}

/// [`RESOLVING`], also after a panic inside `backtrace` (it guards no data).
fn resolving() -> MutexGuard<'static, ()> {
    RESOLVING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes [`RESOLVING`] before `fork`.
pub(crate) fn lock_for_fork() {
    let held = resolving();
    let _ = HELD.try_with(|h| *h.borrow_mut() = Some(held));
}

/// Releases it after `fork`, in the parent and in the child (the thread that forked).
pub(crate) fn unlock_after_fork() {
    let _ = HELD.try_with(|h| h.borrow_mut().take());
}

/// `backtrace::resolve`, under [`RESOLVING`].
fn resolve_at(addr: *mut std::ffi::c_void, f: impl FnMut(&backtrace::Symbol)) {
    let _held = resolving();
    backtrace::resolve(addr, f);
}

/// One logical frame: a function, and where in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Frame {
    pub function: String,
    pub file: String,
    pub line: u32,
    /// Whether `line` is the function's own line: the debug info gave the address none
    /// (line 0, as compilers mark code merged from several lines).
    pub line_of_function: bool,
}

impl Frame {
    /// Whether the frame belongs to the standard library (`std`, `core`, `alloc` and their
    /// vendored dependencies) or to alloc-probe: the frames a site skips.
    pub(crate) fn is_internal(&self) -> bool {
        self.is_probe() || self.is_std() || self.is_foreign()
    }

    /// A frame of C code (`main`, `__libc_start_call_main`, `start_thread`): the program's
    /// entry or a thread's, not a place it allocates from.
    pub(crate) fn is_foreign(&self) -> bool {
        !self.function.contains("::") && !self.file.ends_with(".rs")
    }

    /// A frame of libtest, the test harness: allocations it makes on its own are the
    /// runtime's, not the program's.
    pub(crate) fn is_harness(&self) -> bool {
        self.is_std() && self.function.trim_start_matches('<').starts_with("test::")
    }

    pub(crate) fn is_probe(&self) -> bool {
        let f = self.function.trim_start_matches('<');
        f.starts_with("alloc_probe::")
            || f.starts_with("__rustc::")
            || f.starts_with("__rust_")
            || f.starts_with("__rdl_")
            || f.starts_with("__rg_")
            || self.file.contains("alloc-probe/src/")
    }

    pub(crate) fn is_std(&self) -> bool {
        // The toolchain's build paths, or an installed rust-src's (rustc gives code it
        // instantiates from the standard library the local path when rust-src is installed).
        if self.file.starts_with("/rustc/")
            || self.file.starts_with("/rust/deps/")
            || self.file.contains("/rustlib/src/rust/library/")
        {
            return true;
        }
        // The toolchain's libraries and the crates they vendor, where they come without files.
        let f = self.function.trim_start_matches('<');
        self.file.is_empty()
            && [
                "std::",
                "core::",
                "alloc::",
                "test::",
                "hashbrown::",
                "gimli::",
                "addr2line::",
                "object::",
                "miniz_oxide::",
                "rustc_demangle::",
                "memchr::",
                "adler2::",
                "std_detect::",
                "__",
            ]
            .iter()
            .any(|p| f.starts_with(p))
    }
}

/// A cache of resolved addresses.
#[derive(Default)]
pub(crate) struct Symbols {
    cache: HashMap<usize, Vec<Frame>>,
}

impl Symbols {
    /// The logical frames at return address `ip`, innermost (most inlined) first.
    pub(crate) fn frames(&mut self, ip: usize) -> &[Frame] {
        self.cache.entry(ip).or_insert_with(|| resolve(ip))
    }
}

fn resolve(ip: usize) -> Vec<Frame> {
    let mut out = Vec::new();
    // A return address points after the call; the call itself is one byte earlier.
    let addr = ip.saturating_sub(1) as *mut std::ffi::c_void;
    resolve_at(addr, |sym| {
        let function = sym
            .name()
            .map(|n| plain_fn(&format!("{n:#}")))
            .unwrap_or_else(|| format!("{ip:#x}"));
        let file = sym.filename().map(slashed).unwrap_or_default();
        out.push(Frame {
            function,
            file,
            line: sym.lineno().unwrap_or(0),
            line_of_function: false,
        });
    });
    if out.is_empty() {
        out.push(Frame {
            function: format!("{ip:#x}"),
            file: String::new(),
            line: 0,
            line_of_function: false,
        });
    }
    let entry = unwind::function_start(addr as usize).map(|a| a as *mut std::ffi::c_void);
    with_function_line(&mut out, entry);
    out
}

/// Gives a machine frame with no inlined frames its function's line when the debug info has
/// no line for the address: the line of the function's first instruction, at `entry` (from
/// the unwind tables; `None` where there are none to read).
fn with_function_line(frames: &mut [Frame], entry: Option<*mut std::ffi::c_void>) {
    // Only a machine frame with nothing inlined at the address: elsewhere the line that is
    // missing is an inlined function's, whose own start the unwind table does not give.
    let [f] = frames else { return };
    if f.line != 0 || f.file.is_empty() {
        return;
    }
    let Some(entry) = entry else { return };
    let (mut line, mut file) = (0, None);
    // The last frame at the entry is the function itself (any before it are inlined there).
    // `resolve` takes an address for a return address and looks one byte before it.
    let first = entry.cast::<u8>().wrapping_add(1).cast();
    resolve_at(first, |sym| {
        line = sym.lineno().unwrap_or(0);
        file = sym.filename().map(slashed);
    });
    if line != 0 {
        f.line = line;
        if let Some(file) = file {
            f.file = file;
        }
        f.line_of_function = true;
    }
}

/// A source path with `/` between its parts on every platform: Windows' `\` (which no
/// Windows path holds otherwise) becomes `/`, so that paths read the same everywhere, and the
/// toolchain's own (`/rustc/<hash>/library\std\src\...`, built on Windows) are known.
fn slashed(p: &std::path::Path) -> String {
    let s = p.display().to_string();
    if cfg!(windows) {
        s.replace('\\', "/")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::{with_function_line, Frame};

    #[inline(never)]
    fn target() -> u32 {
        std::hint::black_box(7)
    }

    #[test]
    fn a_frame_without_a_line_gets_its_functions() {
        let entry = target as fn() -> u32 as *mut std::ffi::c_void;
        let mut frames = vec![Frame {
            function: "target".into(),
            file: file!().into(),
            line: 0,
            line_of_function: false,
        }];
        with_function_line(&mut frames, Some(entry));
        let declared = line!() - 14; // `fn target()`
        assert!(frames[0].line_of_function);
        // The first instruction is on the `fn` line, or the body's first.
        assert!(
            (declared..=declared + 1).contains(&frames[0].line),
            "{} for a function declared on {declared}",
            frames[0].line
        );
        // A frame with a line keeps it.
        frames[0].line = 3;
        frames[0].line_of_function = false;
        with_function_line(&mut frames, Some(entry));
        assert_eq!((frames[0].line, frames[0].line_of_function), (3, false));
    }

    #[test]
    fn standard_library_frames_from_an_installed_rust_src_are_std() {
        let frame = |file: &str| Frame {
            function: "alloc::alloc::Global::alloc_impl".into(),
            file: file.into(),
            line: 190,
            line_of_function: false,
        };
        for file in [
            "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/alloc/src/alloc.rs",
            "/root/.rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu/lib/rustlib/src/rust/library/alloc/src/alloc.rs",
            "C:/Users/u/.rustup/toolchains/stable-x86_64-pc-windows-msvc/lib/rustlib/src/rust/library/alloc/src/alloc.rs",
        ] {
            assert!(frame(file).is_internal(), "{file}");
        }
        assert!(!frame("/home/u/app/src/alloc.rs").is_internal());
    }
}
