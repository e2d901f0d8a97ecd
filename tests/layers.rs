//! The layers of `alloc-probe/src` import only downward, and no file imports itself through
//! others: a check over the `crate::` and `super::` paths of every file, against the order of
//! the layers in docs/design.md. A `mod` declaration counts as an import of the declared
//! file, so a file that imports its folder's `mod.rs` (a re-export) closes a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Source files by module path (`["counters", "peak"]` for `counters/peak.rs`).
type Tree = BTreeMap<Vec<String>, String>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("alloc-probe/src")
}

/// Every file of the library, by module path; `bin/` holds other crates.
fn read_tree(dir: &Path, prefix: &[String], out: &mut Tree) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if prefix.is_empty() && name == "bin" {
                continue;
            }
            let mut p = prefix.to_vec();
            p.push(name);
            read_tree(&path, &p, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut p = prefix.to_vec();
            if name != "mod" && name != "lib" {
                p.push(name);
            }
            out.insert(p, std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The source without comments, string and character literals (their text is not code).
fn code(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                // A character literal (a lifetime has no closing quote).
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("' '");
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The paths of a `use`-style tree at `s[*i..]` (after `crate::` or `super::`), each as its
/// segments, appended to `prefix`.
fn paths(s: &[u8], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && s[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let mut path = prefix;
    loop {
        skip_ws(i);
        if *i < s.len() && s[*i] == b'{' {
            *i += 1;
            loop {
                skip_ws(i);
                if *i < s.len() && s[*i] == b'}' {
                    *i += 1;
                    return;
                }
                paths(s, i, path.clone(), out);
                skip_ws(i);
                if *i < s.len() && s[*i] == b',' {
                    *i += 1;
                }
            }
        }
        let start = *i;
        while *i < s.len() && is_ident(s[*i]) {
            *i += 1;
        }
        let ident = String::from_utf8_lossy(&s[start..*i]).into_owned();
        if ident.is_empty() || ident == "self" {
            out.push(path);
            return;
        }
        path.push(ident);
        skip_ws(i);
        if s[*i..].starts_with(b"::") {
            *i += 2;
            continue;
        }
        out.push(path);
        return;
    }
}

/// The module paths `file` refers to: through `crate::` and `super::` paths, and `mod`
/// declarations. `super` inside an inline module (`mod tests { .. }`) is the file itself.
fn references(file: &[String], src: &str) -> Vec<Vec<String>> {
    let src = code(src);
    let s = src.as_bytes();
    let mut out = Vec::new();
    // Depth of inline modules at each position: the braces they opened.
    let mut inline: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < s.len() {
        // A path starts here (`$crate::` is a macro's, for the crate that expands it).
        let before = i == 0 || !is_ident(s[i - 1]) && !matches!(s[i - 1], b':' | b'$');
        if s[i] == b'{' {
            depth += 1;
        } else if s[i] == b'}' {
            depth = depth.saturating_sub(1);
            if inline.last() == Some(&depth) {
                inline.pop();
            }
        } else if before && s[i..].starts_with(b"mod ") {
            let mut j = i + 4;
            while j < s.len() && s[j].is_ascii_whitespace() {
                j += 1;
            }
            let start = j;
            while j < s.len() && is_ident(s[j]) {
                j += 1;
            }
            let name = String::from_utf8_lossy(&s[start..j]).into_owned();
            while j < s.len() && s[j].is_ascii_whitespace() {
                j += 1;
            }
            if s.get(j) == Some(&b';') {
                let mut p = file.to_vec();
                p.push(name);
                out.push(p);
            } else if s.get(j) == Some(&b'{') {
                inline.push(depth);
            }
            i = j;
            continue;
        } else if before && s[i..].starts_with(b"crate::") {
            i += 7;
            paths(s, &mut i, Vec::new(), &mut out);
            continue;
        } else if before && s[i..].starts_with(b"super::") {
            let mut base = file.to_vec();
            let mut ups = 0usize;
            while s[i..].starts_with(b"super::") {
                ups += 1;
                i += 7;
            }
            ups = ups.saturating_sub(inline.len());
            for _ in 0..ups {
                base.pop();
            }
            paths(s, &mut i, base, &mut out);
            continue;
        }
        i += 1;
    }
    out
}

/// The file a module path lands in: its longest prefix that is a file of the tree.
fn resolve<'a>(tree: &'a Tree, path: &[String]) -> Option<&'a Vec<String>> {
    (0..=path.len())
        .rev()
        .find_map(|n| tree.get_key_value(&path[..n]).map(|(k, _)| k))
}

/// The layers, bottom up, from docs/design.md's table (rows `| N | \`name/\` | ...`).
fn layers() -> Vec<String> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/design.md"))
        .expect("docs/design.md");
    let mut out = Vec::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() > 3 && cells[1].parse::<u32>().is_ok() && cells[2].starts_with('`') {
            let name = cells[2].trim_matches('`');
            out.push(
                name.trim_end_matches('/')
                    .trim_end_matches(".rs")
                    .to_string(),
            );
        }
    }
    out
}

/// What is wrong with `tree` against `layers`: imports that run up, and circles.
fn problems(tree: &Tree, layers: &[String]) -> Vec<String> {
    let rank = |m: &[String]| -> Option<usize> {
        match m.first() {
            None => Some(usize::MAX), // lib.rs: declares and re-exports everything
            Some(top) => layers.iter().position(|l| l == top),
        }
    };
    let mut edges: BTreeMap<&Vec<String>, BTreeSet<&Vec<String>>> = BTreeMap::new();
    let mut out = Vec::new();
    for (file, src) in tree {
        let Some(from) = rank(file) else {
            out.push(format!(
                "{} is in no layer of docs/design.md",
                file.join("/")
            ));
            continue;
        };
        for r in references(file, src) {
            let Some(to) = resolve(tree, &r) else {
                continue;
            };
            if to == file {
                continue;
            }
            edges.entry(file).or_default().insert(to);
            if rank(to).is_some_and(|t| t > from) && !file.is_empty() {
                out.push(format!(
                    "{} imports {} ({}), a layer above its own",
                    name(file),
                    name(to),
                    r.join("::")
                ));
            }
        }
    }
    // Circles: the strongly connected components of more than one file (Tarjan).
    let nodes: Vec<&Vec<String>> = tree.keys().collect();
    let index_of: BTreeMap<&Vec<String>, usize> =
        nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let adj: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            edges
                .get(n)
                .map(|e| e.iter().map(|t| index_of[t]).collect())
                .unwrap_or_default()
        })
        .collect();
    for c in components(&adj) {
        if c.len() > 1 {
            let mut names: Vec<String> = c.iter().map(|&i| name(nodes[i])).collect();
            names.sort();
            out.push(format!("import circle: {}", names.join(", ")));
        }
    }
    out
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "lib.rs".into()
    } else {
        m.join("/")
    }
}

/// Tarjan's strongly connected components.
fn components(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        adj: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on[v] = true;
        for &w in &s.adj[v] {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(i) if s.on[w] => s.low[v] = s.low[v].min(i),
                _ => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut c = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on[w] = false;
                c.push(w);
                if w == v {
                    break;
                }
            }
            s.out.push(c);
        }
    }
    let n = adj.len();
    let mut s = State {
        adj,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn the_library_imports_only_downward_without_circles() {
    let layers = layers();
    assert!(
        layers.len() >= 5,
        "docs/design.md lists no layer table: {layers:?}"
    );
    let mut tree = Tree::new();
    read_tree(&root(), &[], &mut tree);
    assert!(tree.len() > 30, "read {} files", tree.len());
    let problems = problems(&tree, &layers);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The check itself finds an upward import, a circle through a folder's `mod.rs`, and paths
/// in braces and after `super::`, but not the words of comments and strings.
#[test]
fn the_check_finds_what_it_is_for() {
    let layers: Vec<String> = ["low", "high"].map(String::from).to_vec();
    let file = |p: &str| p.split('/').map(String::from).collect::<Vec<_>>();
    let mut tree = Tree::new();
    tree.insert(vec![], "mod low; mod high;".into());
    tree.insert(file("low"), "mod a; mod b; pub use a::A;".into());
    tree.insert(
        file("low/a"),
        "// crate::high is a comment\nconst S: &str = \"crate::high\"; pub struct A;".into(),
    );
    tree.insert(file("low/b"), "use super::{a::A, a};".into());
    tree.insert(file("high"), "use crate::low::{self, a};".into());
    assert_eq!(problems(&tree, &layers), Vec::<String>::new());

    let mut upward = tree.clone();
    upward.insert(file("low/a"), "use crate::{high::X};".into());
    let found = problems(&upward, &layers);
    assert!(
        found.iter().any(|p| p.starts_with("low/a imports high")),
        "{found:?}"
    );

    let mut circle = tree;
    circle.insert(file("low/b"), "use super::A;".into());
    assert_eq!(
        problems(&circle, &layers),
        ["import circle: low, low/b"],
        "an import of a file's own folder's re-export"
    );
}
