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
        write_stderr(p);
    }
}

/// Writes all of `text` to stderr, without std's lock on it, which a child of `fork` inherits
/// held if another thread was printing then. Gives up on an error other than an interrupt.
pub(crate) fn write_stderr(mut text: &[u8]) {
    while !text.is_empty() {
        // SAFETY: writes at most `text.len()` bytes from a valid slice to fd 2.
        let n = unsafe { libc::write(2, text.as_ptr().cast(), text.len().min(1 << 20) as _) };
        if n > 0 {
            text = &text[n as usize..];
        } else if n == 0
            || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
        {
            return;
        }
    }
}
