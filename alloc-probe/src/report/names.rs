//! Names as reports show them: functions in one spelling, shortened for verdicts and tables,
//! paths simplified for matching, and source files the same from any working directory. The
//! library's table and the CLI print names the same way through these.

/// The short name of a function for verdicts: its last path segment, with the closures
/// inside it (`parse_line::{closure#0}`). Generic arguments are dropped first, so a `::`
/// inside them does not split the name.
pub(crate) fn short_fn(f: &str) -> String {
    let plain = simplify_path(f);
    let mut parts: Vec<&str> = plain.split("::").collect();
    let mut keep = Vec::new();
    while let Some(p) = parts.pop() {
        keep.push(p);
        if !p.starts_with('{') {
            break;
        }
    }
    keep.reverse();
    keep.join("::")
}

/// A function's name in one spelling, whichever symbol mangling or debug info it came from:
/// `{{closure}}` (legacy) and `{closure#0}` (v0, DWARF) are `{closure}`, and so is an
/// `async fn`'s or block's body (`{async_fn#0}`, `{async_block#0}` in debug info, a closure in
/// every mangling), inside the function it belongs to (`handler::{closure}`).
pub(crate) fn plain_fn(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        rest = &rest[open..];
        let (inner, len) = if let Some(body) = rest.strip_prefix("{{") {
            match body.find("}}") {
                Some(end) => (&body[..end], end + 4),
                None => break,
            }
        } else {
            match rest.find('}') {
                Some(end) => (&rest[1..end], end + 1),
                None => break,
            }
        };
        let kind = inner.split('#').next().unwrap_or(inner);
        // Mangled names spell an async body as a closure; debug info alone says which.
        let kind = match kind {
            "async_fn" | "async_block" | "async_closure" => "closure",
            k => k,
        };
        out.push('{');
        out.push_str(kind);
        out.push('}');
        rest = &rest[len..];
    }
    out.push_str(rest);
    out
}

/// A function path for matching: generic arguments dropped, `<T as Trait>::f` read as `T::f`.
pub(crate) fn simplify_path(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        // The matching `>`, minding nesting (`->` is not a bracket).
        let bytes = rest.as_bytes();
        let (mut depth, mut close) = (0usize, rest.len());
        for (i, &c) in bytes.iter().enumerate().skip(open) {
            match c {
                b'<' => depth += 1,
                b'>' if i > 0 && bytes[i - 1] == b'-' => {}
                b'>' => {
                    depth -= 1;
                    if depth == 0 {
                        close = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let inner = &rest[open + 1..close.min(rest.len())];
        // `<T as Trait>` names T; anything else in brackets is generic arguments.
        if let Some(i) = top_level_as(inner) {
            out.push_str(&simplify_path(&inner[..i]));
        }
        rest = rest.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out.replace("::::", "::").trim_end_matches("::").to_string()
}

/// Where ` as ` stands outside any brackets in `s`.
fn top_level_as(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ' ' if depth == 0 && s[i..].starts_with(" as ") => return Some(i),
            _ => {}
        }
    }
    None
}

/// Source files as reports show them, the same from any working directory (so that reports
/// of one program merge and diff wherever it ran): the standard library's from its crate
/// (`std/src/...`), a registry crate's from its name and version (`syn-2.0.50/src/...`), a
/// git dependency's from its name and revision, and the program's own relative to its Cargo
/// workspace (the nearest ancestor whose `Cargo.toml` has `[workspace]`, else the package).
/// Files not on this machine stay as they are, or relative to the working directory.
#[derive(Default)]
pub(crate) struct Paths {
    /// Each directory's workspace or package root, found once.
    roots: std::collections::HashMap<std::path::PathBuf, Option<std::path::PathBuf>>,
}

impl Paths {
    pub(crate) fn show(&mut self, file: &str) -> String {
        if let Some(rest) = after_toolchain(file) {
            return rest.to_string();
        }
        if let Some(i) = file.find("/registry/src/") {
            // `.../registry/src/<index>-<hash>/<crate>-<version>/...`
            let index = &file[i + "/registry/src/".len()..];
            if let Some((dir, rest)) = index.split_once('/') {
                if hashed(dir).is_some() {
                    return rest.to_string();
                }
            }
        }
        if let Some(i) = file.find("/git/checkouts/") {
            // `.../git/checkouts/<name>-<hash>/<revision>/...`
            let rest = &file[i + "/git/checkouts/".len()..];
            let mut parts = rest.splitn(3, '/');
            if let (Some(repo), Some(rev), Some(path)) = (parts.next(), parts.next(), parts.next())
            {
                if let Some(name) = hashed(repo) {
                    return format!("{name}@{rev}/{path}");
                }
            }
        }
        let path = std::path::Path::new(file);
        // Rooted, though perhaps without a drive: a path of the machine that built it.
        if path.has_root() {
            if let Some(root) = path.parent().and_then(|d| self.root(d)) {
                if let Ok(rel) = path.strip_prefix(&root) {
                    return rel.display().to_string();
                }
            }
            if let Ok(cwd) = std::env::current_dir() {
                if let Ok(rel) = path.strip_prefix(&cwd) {
                    return rel.display().to_string();
                }
            }
        }
        file.to_string()
    }

    /// The workspace (or else package) root above directory `dir`, if any.
    fn root(&mut self, dir: &std::path::Path) -> Option<std::path::PathBuf> {
        if let Some(r) = self.roots.get(dir) {
            return r.clone();
        }
        let (mut package, mut workspace) = (None, None);
        for d in dir.ancestors() {
            let Ok(toml) = std::fs::read_to_string(d.join("Cargo.toml")) else {
                continue;
            };
            package.get_or_insert_with(|| d.to_path_buf());
            let table = |l: &str| l.split('#').next().unwrap_or("").trim() == "[workspace]";
            if toml.lines().any(table) {
                workspace = Some(d.to_path_buf());
                break;
            }
        }
        let r = workspace.or(package);
        self.roots.insert(dir.to_path_buf(), r.clone());
        r
    }
}

/// `name` of a directory Cargo names `<name>-<16 hex digits>` (a registry index, a git
/// checkout), or `None` for any other.
fn hashed(dir: &str) -> Option<&str> {
    let (name, hash) = dir.rsplit_once('-')?;
    (hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(name)
}

/// The part of a standard library source path after `library/`: from the toolchain's build
/// (`/rustc/<hash>/library/`) or an installed `rust-src` (`.../rustlib/src/rust/library/`).
fn after_toolchain(file: &str) -> Option<&str> {
    let i = file.find("/library/")?;
    let toolchain = file.starts_with("/rustc/") || file[..i].ends_with("/rustlib/src/rust");
    toolchain.then(|| &file[i + "/library/".len()..])
}

#[cfg(test)]
mod tests {
    use super::{short_fn, simplify_path, Paths};

    #[test]
    fn paths_do_not_depend_on_the_working_directory() {
        let mut p = Paths::default();
        assert_eq!(
            p.show(
                "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/ops/function.rs"
            ),
            "core/src/ops/function.rs"
        );
        assert_eq!(
            p.show("/home/u/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib/rustlib/src/rust/library/std/src/rt.rs"),
            "std/src/rt.rs"
        );
        assert_eq!(
            p.show("/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/syn-2.0.50/src/expr.rs"),
            "syn-2.0.50/src/expr.rs"
        );
        assert_eq!(
            p.show("/home/u/.cargo/git/checkouts/tokio-9d5f2b5e0a1c3e7f/ab12cd3/tokio/src/lib.rs"),
            "tokio@ab12cd3/tokio/src/lib.rs"
        );
        // This crate's own files, relative to its workspace, from wherever the test runs.
        let me = concat!(env!("CARGO_MANIFEST_DIR"), "/src/report/names.rs");
        assert_eq!(p.show(me), "alloc-probe/src/report/names.rs");
        assert_eq!(p.show("src/main.rs"), "src/main.rs");
        assert_eq!(p.show("/nowhere/at/all.rs"), "/nowhere/at/all.rs");
        // Folders that only look like Cargo's.
        assert_eq!(
            p.show("/nowhere/registry/src/api/handlers.rs"),
            "/nowhere/registry/src/api/handlers.rs"
        );
        assert_eq!(
            p.show("/nowhere/git/checkouts/proj/src/lib.rs"),
            "/nowhere/git/checkouts/proj/src/lib.rs"
        );
    }

    #[test]
    fn paths_simplify_for_matching() {
        assert_eq!(simplify_path("a::b::Parser::parse"), "a::b::Parser::parse");
        assert_eq!(simplify_path("a::Stack<T>::push"), "a::Stack::push");
        assert_eq!(simplify_path("<a::Foo as a::Tr>::run"), "a::Foo::run");
        assert_eq!(
            simplify_path("<a::Foo<u8> as a::Tr<Vec<u8>>>::run::{{closure}}"),
            "a::Foo::run::{{closure}}"
        );
        assert_eq!(short_fn("a::b::parse::{closure#0}"), "parse::{closure#0}");
        assert_eq!(short_fn("a::b::parse"), "parse");
        assert_eq!(
            short_fn("a::run_test::<a::T, ()>::{closure#1}"),
            "run_test::{closure#1}"
        );
    }

    #[test]
    fn one_spelling_for_closures_and_async_bodies() {
        use super::plain_fn;
        assert_eq!(plain_fn("a::parse::{{closure}}"), "a::parse::{closure}");
        assert_eq!(plain_fn("a::parse::{closure#1}"), "a::parse::{closure}");
        assert_eq!(
            plain_fn("a::handler::{async_fn#0}"),
            "a::handler::{closure}"
        );
        assert_eq!(
            plain_fn("a::run::{async_block#0}::{closure#0}"),
            "a::run::{closure}::{closure}"
        );
        assert_eq!(
            plain_fn("<a::S<u8> as a::T>::f::{{closure}}::{{closure}}"),
            "<a::S<u8> as a::T>::f::{closure}::{closure}"
        );
        assert_eq!(plain_fn("a::{{constant}}"), "a::{constant}");
        assert_eq!(plain_fn("no_braces::f"), "no_braces::f");
        assert_eq!(plain_fn("broken::{closure"), "broken::{closure");
        assert_eq!(
            short_fn(&plain_fn("a::handler::{async_fn#0}")),
            "handler::{closure}"
        );
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
