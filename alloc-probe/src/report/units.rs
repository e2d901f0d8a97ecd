//! Human units for the readable output, the library's and the CLI's alike: bytes (`1.5 KiB`),
//! counts (`10,000`) and percentages (`33%`). [`Bytes`] allocates nothing, so the live trace
//! can use it from its thread without showing up in the figures it prints.

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
        if self.0 < 1024 {
            let mut s = StackStr::<32>::new();
            let _ = write!(s, "{} B", self.0);
            return f.pad(s.as_str());
        }
        Scaled(self.0 as f64).fmt(f)
    }
}

/// Formats bytes, of 1024 or more, in the largest unit they reach: `1.5 KiB`, `12.0 MiB`.
pub(crate) struct Scaled(pub f64);

impl fmt::Display for Scaled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        let (mut v, mut unit) = (self.0, 0);
        while v.abs() >= 1024.0 && unit + 1 < UNITS.len() {
            v /= 1024.0;
            unit += 1;
        }
        let mut s = StackStr::<32>::new();
        let _ = write!(s, "{v:.1} {}", UNITS[unit]);
        f.pad(s.as_str())
    }
}

/// Formats a byte count exactly, in the largest binary unit that divides it: `512 MiB`,
/// `3 KiB`, `1000 B`. For limits, where a rounded figure would misstate the bound.
pub(crate) struct Exact(pub u64);

impl fmt::Display for Exact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
        let (n, unit) = UNITS
            .iter()
            .find(|&&(_, shift)| self.0 != 0 && self.0.trailing_zeros() >= shift)
            .map_or((self.0, "B"), |&(unit, shift)| (self.0 >> shift, unit));
        let mut s = StackStr::<32>::new();
        let _ = write!(s, "{n} {unit}");
        f.pad(s.as_str())
    }
}

/// `10,000`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let head = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out = digits[..head].to_string();
    for group in digits.as_bytes()[head..].chunks(3) {
        out.push(',');
        out.push_str(std::str::from_utf8(group).unwrap_or_default());
    }
    out
}

/// `part` as a percentage of `whole`, rounded half up; `None` when `whole` is zero.
pub(crate) fn percent(part: u64, whole: u64) -> Option<u64> {
    part.saturating_mul(100)
        .saturating_add(whole / 2)
        .checked_div(whole)
}

/// A percentage as tables show it: `33%`, or `-` when `whole` is zero.
pub(crate) struct Percent(pub u64, pub u64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = StackStr::<24>::new();
        match percent(self.0, self.1) {
            Some(p) => write!(s, "{p}%")?,
            None => s.write_str("-")?,
        }
        f.pad(s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(Bytes(0).to_string(), "0 B");
        assert_eq!(Bytes(1023).to_string(), "1023 B");
        assert_eq!(Bytes(1536).to_string(), "1.5 KiB");
        assert_eq!(Bytes(3 << 20).to_string(), "3.0 MiB");
        assert_eq!(Bytes(u64::MAX).to_string(), "16384.0 PiB");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(Percent(1, 3).to_string(), "33%");
        assert_eq!(Percent(1, 0).to_string(), "-");
        assert_eq!(format!("{:>4}", Percent(1, 2)), " 50%");
        assert_eq!(percent(1, 8), Some(13));
        assert_eq!(Exact(512 << 20).to_string(), "512 MiB");
        assert_eq!(Exact(3 << 30).to_string(), "3 GiB");
        assert_eq!(Exact(1000).to_string(), "1000 B");
        assert_eq!(Exact(1025).to_string(), "1025 B");
        assert_eq!(Exact(0).to_string(), "0 B");
        assert_eq!(Exact(5 << 40).to_string(), "5 TiB");
    }
}
