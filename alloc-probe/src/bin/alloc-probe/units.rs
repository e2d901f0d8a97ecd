//! Human units and aligned columns for the readable output.
//!
//! The library's own formatters are private to it; these follow the same conventions
//! (`1.5 KiB`, `10,000`) so the CLI and the report printed at exit read alike.

/// `512 B`, `1.5 KiB`, `12.0 MiB`.
pub fn bytes(n: u64) -> String {
    if n < 1024 {
        return format!("{n} B");
    }
    scaled(n as f64)
}

/// A per-call byte figure, which may be fractional: `24 B`, `40.5 B`, `1.5 KiB`.
pub fn bytes_f(n: f64) -> String {
    if !n.is_finite() || n.abs() < 1024.0 {
        return format!("{} B", number(n));
    }
    scaled(n)
}

fn scaled(mut v: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `10,000`.
pub fn count(n: u64) -> String {
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

/// A per-call count: `3`, `2.5`, `0.33`: whole numbers stay whole, the rest get at most two
/// decimals, so that `3 → 3.01` is still visible in a diff.
pub fn number(n: f64) -> String {
    if !n.is_finite() {
        return n.to_string();
    }
    if n.fract() == 0.0 && n.abs() < 1e15 {
        return count_signed(n as i64);
    }
    let s = format!("{n:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

fn count_signed(n: i64) -> String {
    if n < 0 {
        format!("-{}", count(n.unsigned_abs()))
    } else {
        count(n as u64)
    }
}

/// `part` as a rounded percentage of `whole`, `-` when `whole` is zero.
pub fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.0}%", part as f64 * 100.0 / whole as f64)
}

/// A relative change: `+25.0%`, `-3.1%`, `new` when the base was zero.
pub fn change(base: f64, new: f64) -> String {
    if base == new {
        return "=".into();
    }
    if base == 0.0 {
        return "from 0".into();
    }
    format!("{:+.1}%", (new - base) / base * 100.0)
}

/// Column alignment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Numbers.
    Right,
    /// Names.
    Left,
}

/// A table whose columns are as wide as their widest cell, two spaces apart, indented by two.
/// The last column is never padded, so lines carry no trailing blanks.
pub struct Table {
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with this header; each header cell is `(title, alignment)`.
    pub fn new(header: &[(&str, Align)]) -> Table {
        Table {
            align: header.iter().map(|h| h.1).collect(),
            rows: vec![header.iter().map(|h| h.0.to_string()).collect()],
        }
    }

    /// Adds a row; missing cells are blank.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Rows added after the header.
    pub fn len(&self) -> usize {
        self.rows.len() - 1
    }

    /// Appends the table to `out`.
    pub fn render(&self, out: &mut String) {
        let cols = self.align.len();
        let mut width = vec![0; cols];
        for row in &self.rows {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in &self.rows {
            let mut line = String::from(" ");
            for (i, &w) in width.iter().enumerate() {
                let cell = row.get(i).map_or("", String::as_str);
                let pad = w - cell.chars().count();
                line.push(' ');
                if i > 0 {
                    line.push(' ');
                }
                match self.align[i] {
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(cell);
                    }
                    Align::Left => {
                        line.push_str(cell);
                        if i + 1 < cols {
                            line.extend(std::iter::repeat_n(' ', pad));
                        }
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

/// The last path segment of a function, with the closures inside it: `parse_line`,
/// `parse_line::{closure#0}`. Verdicts name functions the same way. `::` inside generic
/// arguments does not split, and turbofish arguments are dropped:
/// `std::f::<a::b::{closure#1}, ()>` is `f`.
pub fn short_fn(path: &str) -> String {
    let mut parts: Vec<String> = vec![String::new()];
    let mut depth = 0usize;
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ':' if depth == 0 && chars.peek() == Some(&':') => {
                chars.next();
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().unwrap().push(c);
    }
    parts.retain(|p| !p.starts_with('<') || p.contains(" as "));
    let mut start = parts.len().saturating_sub(1);
    while start > 0 && parts[start].starts_with('{') {
        start -= 1;
    }
    parts[start..].join("::")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(bytes(u64::MAX), "16384.0 PiB");
        assert_eq!(bytes_f(40.5), "40.5 B");
        assert_eq!(bytes_f(2048.0), "2.0 KiB");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(count(0), "0");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(1.0 / 3.0), "0.33");
        assert_eq!(number(3.001), "3");
        assert_eq!(number(-0.001), "0");
        assert_eq!(number(12345.0), "12,345");
        assert_eq!(pct(1, 3), "33%");
        assert_eq!(pct(1, 0), "-");
        assert_eq!(change(4.0, 5.0), "+25.0%");
        assert_eq!(change(0.0, 5.0), "from 0");
        assert_eq!(change(2.0, 2.0), "=");
    }

    #[test]
    fn table_aligns_and_leaves_no_trailing_blanks() {
        let mut t = Table::new(&[("n", Align::Right), ("name", Align::Left)]);
        t.row(vec!["1,000".into(), "a".into()]);
        t.row(vec!["7".into(), "longer".into()]);
        let mut out = String::new();
        t.render(&mut out);
        assert_eq!(out, "      n  name\n  1,000  a\n      7  longer\n");
    }

    #[test]
    fn short_names() {
        assert_eq!(short_fn("a::b::parse_line"), "parse_line");
        assert_eq!(short_fn("a::parse::{closure#0}"), "parse::{closure#0}");
        assert_eq!(short_fn("main"), "main");
        assert_eq!(
            short_fn("std::sys::backtrace::__rust_begin_short_backtrace::<test::run_test::{closure#1}, ()>"),
            "__rust_begin_short_backtrace"
        );
        assert_eq!(
            short_fn("<a::Foo<u8> as a::Tr>::run::{{closure}}"),
            "run::{{closure}}"
        );
        assert_eq!(short_fn("a::Stack<T>::push"), "push");
        assert_eq!(short_fn(""), "");
    }
}
