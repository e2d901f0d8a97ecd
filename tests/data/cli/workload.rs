//! The program behind the CLI fixtures `base.json` and `new.json`: parse order lines, render
//! them, load a config. `new` is the same code with a regression: one more `String` per
//! parsed line, and the config no longer leaked. Regenerate with
//! `cargo test --test cli -- --ignored regenerate_fixtures`.
//!
//! Kept in its own file so that its line numbers, which the fixtures record, do not move when
//! tests/cli.rs changes.

use std::hint::black_box;

use alloc_probe::track_allocs;

pub struct Order {
    pub id: u32,
    pub country: String,
    pub cents: u64,
}

#[track_allocs]
pub fn parse_line(line: &str, new: bool) -> Order {
    let fields: Vec<&str> = line.split(',').collect();
    let id = Box::new(fields[0].parse::<u32>().unwrap_or(0));
    let country = intern(fields[1]);
    if new {
        let key = format!("{}-{}", fields[0], fields[1]);
        black_box(&key);
    }
    Order {
        id: *id,
        country,
        cents: fields[2].parse().unwrap_or(0),
    }
}

/// Not tracked: its allocation still shows under `parse_line`, without an expression.
fn intern(s: &str) -> String {
    s.trim().to_string()
}

#[track_allocs]
pub fn render(orders: &[Order]) -> String {
    let mut out = String::new();
    for o in orders {
        out.push_str(&format!("{} {} {}\n", o.id, o.country, o.cents));
    }
    out
}

#[track_allocs]
pub fn load_config(new: bool) -> &'static str {
    if new {
        return "threads=4";
    }
    Box::leak(String::from("threads=4").into_boxed_str())
}

/// The whole run: 100 lines parsed, rendered once, one config load.
pub fn run(new: bool) {
    let lines: Vec<String> = (0..100)
        .map(|i| format!("{i},{},{}", ["fr", "de", "us"][i % 3], i * 100))
        .collect();
    let orders: Vec<Order> = lines.iter().map(|l| parse_line(l, new)).collect();
    black_box(render(&orders));
    black_box(load_config(new));
}
