//! The reports the CLI reads, of at most `--max-input-size` bytes: a byte count as people
//! write one (`512M`, `2GiB`, `1048576`), and the refusal past it saying how to raise it.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::report::units::Exact;
use crate::report::{read_json_limited, Report};

/// Reads a report of at most `limit` bytes; the errors name the file and the problem in one
/// line.
pub fn read(path: &Path, limit: Size) -> Result<Report, String> {
    read_json_limited(path, limit.0, "; raise it with --max-input-size")
}

/// A size in bytes, from a whole number and an optional binary unit: `K`/`KiB`, `M`/`MiB`,
/// `G`/`GiB`, `T`/`TiB` (any case, a space allowed before it), or `B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl FromStr for Size {
    type Err = String;

    fn from_str(s: &str) -> Result<Size, String> {
        const EXPECTED: &str = "expected a size such as 512M, 2GiB or 1048576 (bytes)";
        let s = s.trim();
        let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(digits);
        let number: u64 = number.parse().map_err(|_| EXPECTED.to_string())?;
        let shift = match unit.trim_start().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kib" => 10,
            "m" | "mib" => 20,
            "g" | "gib" => 30,
            "t" | "tib" => 40,
            _ => return Err(EXPECTED.into()),
        };
        let bytes = number
            .checked_mul(1 << shift)
            .ok_or_else(|| format!("{s} is more than {} bytes", u64::MAX))?;
        if bytes == 0 {
            return Err("a limit of 0 bytes would refuse every report".into());
        }
        Ok(Size(bytes))
    }
}

/// As it is written on the command line (`512MiB`), so `--help` shows its default unquoted.
impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&Exact(self.0).to_string().replace(' ', ""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_binary() {
        for (text, bytes) in [
            ("1048576", 1 << 20),
            ("1M", 1 << 20),
            ("1m", 1 << 20),
            ("1MiB", 1 << 20),
            ("512 MiB", 512 << 20),
            ("2G", 2 << 30),
            ("3kib", 3 << 10),
            ("1T", 1 << 40),
            ("100B", 100),
        ] {
            assert_eq!(text.parse(), Ok(Size(bytes)), "{text}");
        }
    }

    #[test]
    fn what_is_not_a_size_is_refused_in_a_sentence() {
        for text in ["", "M", "1.5G", "-1", "1MB", "1 M B", "0x10"] {
            let e = text.parse::<Size>().unwrap_err();
            assert!(e.starts_with("expected a size"), "{text}: {e}");
        }
        assert_eq!(
            "0".parse::<Size>(),
            Err("a limit of 0 bytes would refuse every report".into())
        );
        assert!("20000000T"
            .parse::<Size>()
            .unwrap_err()
            .contains("more than"));
    }

    #[test]
    fn it_prints_as_it_parses() {
        assert_eq!(Size(512 << 20).to_string(), "512MiB");
        for bytes in [512 << 20, 1000, 3 << 10, u64::MAX] {
            let shown = Size(bytes).to_string();
            assert_eq!(shown.parse(), Ok(Size(bytes)), "{shown}");
        }
    }
}
