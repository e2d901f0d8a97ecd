//! Human units for the readable output. Nothing here allocates, so the live trace can use it
//! from its thread without showing up in the figures it prints.

use std::fmt::{self, Write};

/// A fixed-size text buffer on the stack; output past its end is cut.
pub(crate) struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackStr<N> {
    pub(crate) const fn new() -> Self {
        StackStr {
            buf: [0; N],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so this is valid UTF-8 up to a char boundary
        // except where a write was cut: fall back to the longest valid prefix.
        match std::str::from_utf8(&self.buf[..self.len]) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&self.buf[..e.valid_up_to()]).unwrap_or(""),
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<const N: usize> Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(N - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Formats a byte count as `512 B`, `1.5 KiB`, `12.0 MiB`.
pub(crate) struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
        let mut s = StackStr::<32>::new();
        if self.0 < 1024 {
            let _ = write!(s, "{} B", self.0);
        } else {
            let mut v = self.0 as f64 / 1024.0;
            let mut unit = 0;
            while v >= 1024.0 && unit + 1 < UNITS.len() {
                v /= 1024.0;
                unit += 1;
            }
            let _ = write!(s, "{v:.1} {}", UNITS[unit]);
        }
        f.pad(s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Bytes;

    #[test]
    fn units() {
        assert_eq!(Bytes(0).to_string(), "0 B");
        assert_eq!(Bytes(1023).to_string(), "1023 B");
        assert_eq!(Bytes(1536).to_string(), "1.5 KiB");
        assert_eq!(Bytes(3 << 20).to_string(), "3.0 MiB");
    }
}
