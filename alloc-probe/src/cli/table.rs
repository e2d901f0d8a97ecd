//! Aligned columns, and the figures only the CLI shows: per-call values and changes. Bytes,
//! counts, percentages and names are the library's (`report::units`, `report::names`), so
//! the CLI and the report printed at exit read alike.

use crate::report::units::{thousands, Scaled};

/// A per-call byte figure, which may be fractional: `24 B`, `40.5 B`, `1.5 KiB`.
pub fn bytes_f(n: f64) -> String {
    if !n.is_finite() || n.abs() < 1024.0 {
        return format!("{} B", number(n));
    }
    Scaled(n).to_string()
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
        format!("-{}", thousands(n.unsigned_abs()))
    } else {
        thousands(n as u64)
    }
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

/// How a command's output is laid out: aligned text for a terminal, or Markdown for a pull
/// request's comment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Style {
    /// Aligned columns.
    #[default]
    Text,
    /// GitHub-flavoured Markdown tables.
    Markdown,
}

impl Style {
    /// Appends a section's title.
    pub fn heading(self, title: &str, out: &mut String) {
        match self {
            Style::Text => out.push_str(&format!("\n{title}\n")),
            Style::Markdown => out.push_str(&format!("\n#### {title}\n\n")),
        }
    }
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

    /// Appends the table to `out` as text, or as a GitHub-flavoured Markdown table.
    pub fn render_as(&self, style: Style, out: &mut String) {
        match style {
            Style::Text => self.render(out),
            Style::Markdown => self.markdown(out),
        }
    }

    fn markdown(&self, out: &mut String) {
        for (i, row) in self.rows.iter().enumerate() {
            out.push('|');
            for (c, &align) in self.align.iter().enumerate() {
                let text = row.get(c).map_or("", String::as_str).replace('|', "\\|");
                out.push(' ');
                // Names as code, so that `<T as Trait>` is not taken for HTML.
                if i > 0 && align == Align::Left && !text.is_empty() {
                    out.push_str(&format!("`{text}`"));
                } else {
                    out.push_str(&text);
                }
                out.push_str(" |");
            }
            out.push('\n');
            if i == 0 {
                out.push('|');
                for a in &self.align {
                    out.push_str(match a {
                        Align::Right => "---:|",
                        Align::Left => ":---|",
                    });
                }
                out.push('\n');
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_call_figures() {
        assert_eq!(bytes_f(40.5), "40.5 B");
        assert_eq!(bytes_f(2048.0), "2.0 KiB");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(1.0 / 3.0), "0.33");
        assert_eq!(number(3.001), "3");
        assert_eq!(number(-0.001), "0");
        assert_eq!(number(12345.0), "12,345");
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
    fn markdown_tables_align_and_escape() {
        let mut t = Table::new(&[("n", Align::Right), ("", Align::Left)]);
        t.row(vec!["1,000".into(), "a|b".into()]);
        let mut out = String::new();
        t.render_as(Style::Markdown, &mut out);
        assert_eq!(out, "| n |  |\n|---:|:---|\n| 1,000 | `a\\|b` |\n");
    }
}
