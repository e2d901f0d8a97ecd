//! The environment and stderr, without allocating: the allocator path reads its settings on a
//! thread's first allocation, possibly before `main`, where `std::env` would allocate an
//! `OsString` through ourselves.

use std::ffi::CStr;

/// The value of an environment variable, borrowed from the environment block.
pub(crate) fn var(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: `name` is NUL-terminated; getenv returns null or a NUL-terminated string in the
    // environment block, which lives as long as nobody calls setenv on that name.
    unsafe {
        let p = libc::getenv(name.as_ptr());
        if p.is_null() {
            None
        } else {
            Some(CStr::from_ptr(p).to_bytes())
        }
    }
}

/// Writes one line, in parts, to stderr.
pub(crate) fn warn(parts: &[&[u8]]) {
    for p in parts {
        // SAFETY: writes at most `p.len()` bytes from a valid slice to fd 2.
        unsafe { libc::write(2, p.as_ptr().cast(), p.len() as _) };
    }
}
