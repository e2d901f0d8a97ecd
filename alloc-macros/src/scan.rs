//! Lists the expressions of a tracked body that may allocate.
//!
//! This is a syntactic guess made without types: `x.clone()` is listed whether `x` is a `Vec`
//! or a `u32`. The runtime matches these sites to the allocations it actually sees by line.
//! Closures and async blocks are scanned (their allocations happen in the function); nested
//! items such as inner `fn`s are not (they run as calls of their own).

use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Expr, ExprCall, ExprMethodCall, Item, Macro, Path, Token};

/// Rendered expressions longer than this many characters are cut, ending in `...`.
const MAX_EXPR_CHARS: usize = 80;

/// One expression that may allocate.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    /// 1-based line; 0 when the compiler does not report span locations.
    pub(crate) line: usize,
    /// 1-based column; 0 when the compiler does not report span locations.
    pub(crate) column: usize,
    /// The token the position is taken from: the call's path, the method name, the macro name.
    pub(crate) span: Span,
    /// A compact rendering of the expression's tokens.
    pub(crate) expr: String,
    /// `"Box::new"`, `"vec!"`, `"clone"`, ...
    pub(crate) kind: String,
}

/// The sites of a function body, ordered by position.
pub(crate) fn scan_block(block: &syn::Block) -> Vec<Site> {
    let mut scanner = Scanner::default();
    scanner.visit_block(block);
    scanner.finish()
}

/// The sites of one expression (the future of an async-trait style body), ordered by position.
pub(crate) fn scan_expr(expr: &Expr) -> Vec<Site> {
    let mut scanner = Scanner::default();
    scanner.visit_expr(expr);
    scanner.finish()
}

#[derive(Default)]
struct Scanner {
    sites: Vec<Site>,
}

impl Scanner {
    fn push(&mut self, anchor: Span, tokens: TokenStream, kind: String) {
        let start = anchor.start();
        let (line, column) = if start.line == 0 {
            (0, 0)
        } else {
            (start.line, start.column + 1)
        };
        self.sites.push(Site {
            line,
            column,
            span: anchor,
            expr: truncate(render(tokens)),
            kind,
        });
    }

    fn finish(mut self) -> Vec<Site> {
        // Method chains are visited outside-in; report in reading order.
        self.sites.sort_by_key(|s| (s.line, s.column));
        self.sites
    }
}

impl<'ast> Visit<'ast> for Scanner {
    fn visit_item(&mut self, _: &'ast Item) {
        // A nested `fn`, `impl`, `static`, ... runs as its own call (or at compile time).
    }

    fn visit_expr_call(&mut self, call: &'ast ExprCall) {
        if let Expr::Path(p) = &*call.func {
            if p.qself.is_none() {
                if let Some(kind) = path_call_kind(&p.path) {
                    self.push(first_span(&p.path), call.to_token_stream(), kind);
                }
            }
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'ast ExprMethodCall) {
        let name = call.method.to_string();
        if method_allocates(&name, call.args.len()) {
            self.push(call.method.span(), call.to_token_stream(), name);
        }
        visit::visit_expr_method_call(self, call);
    }

    fn visit_macro(&mut self, mac: &'ast Macro) {
        let Some(name) = mac.path.segments.last().map(|s| s.ident.to_string()) else {
            return;
        };
        let allocates = match name.as_str() {
            // `vec![]` is `Vec::new()`, which does not allocate.
            "vec" => !mac.tokens.is_empty(),
            "format" => true,
            _ => false,
        };
        if allocates {
            self.push(
                first_span(&mac.path),
                mac.to_token_stream(),
                format!("{name}!"),
            );
        }
        if EXPR_MACROS.contains(&name.as_str()) {
            for expr in macro_exprs(mac) {
                self.visit_expr(&expr);
            }
        }
    }
}

/// Standard macros whose arguments are expressions, scanned like code.
const EXPR_MACROS: &[&str] = &[
    "vec",
    "format",
    "format_args",
    "print",
    "println",
    "eprint",
    "eprintln",
    "write",
    "writeln",
    "panic",
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "dbg",
    "todo",
    "unimplemented",
    "unreachable",
];

/// The arguments of a macro as `a, b, c` or `elem; n`; none if they are neither.
fn macro_exprs(mac: &Macro) -> Vec<Expr> {
    if let Ok(list) = mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
        return list.into_iter().collect();
    }
    mac.parse_body_with(|input: syn::parse::ParseStream<'_>| {
        let elem: Expr = input.parse()?;
        input.parse::<Token![;]>()?;
        let len: Expr = input.parse()?;
        Ok(vec![elem, len])
    })
    .unwrap_or_default()
}

/// `Box::new(..)`, `String::with_capacity(..)`, ...: the kind, from the path's last two
/// segments, so `std::boxed::Box::new` and `Box::<T>::new` count too.
fn path_call_kind(path: &Path) -> Option<String> {
    let n = path.segments.len();
    if n < 2 {
        return None;
    }
    let ty = path.segments[n - 2].ident.to_string();
    let func = path.segments[n - 1].ident.to_string();
    let allocates = matches!(
        (ty.as_str(), func.as_str()),
        (
            "Box" | "Rc" | "Arc",
            "new"
                | "pin"
                | "from"
                | "from_iter"
                | "new_uninit"
                | "new_uninit_slice"
                | "new_zeroed"
                | "new_cyclic",
        ) | (
            "String"
                | "Vec"
                | "VecDeque"
                | "LinkedList"
                | "BinaryHeap"
                | "HashMap"
                | "HashSet"
                | "BTreeMap"
                | "BTreeSet"
                | "PathBuf"
                | "OsString"
                | "CString",
            "from" | "from_iter",
        ) | (
            "String"
                | "Vec"
                | "VecDeque"
                | "BinaryHeap"
                | "HashMap"
                | "HashSet"
                | "PathBuf"
                | "OsString",
            "with_capacity" | "with_capacity_and_hasher",
        ) | (
            "String",
            "from_utf8_lossy" | "from_utf16" | "from_utf16_lossy"
        ) | ("CString", "new"),
    );
    allocates.then(|| format!("{ty}::{func}"))
}

/// Methods that may allocate, told apart from same-named ones by their argument count where
/// that helps (`JoinHandle::join()` takes none, `[S]::join(sep)` one).
fn method_allocates(name: &str, args: usize) -> bool {
    matches!(
        (name, args),
        (
            "clone"
                | "to_string"
                | "to_owned"
                | "to_vec"
                | "collect"
                | "concat"
                | "into_boxed_slice"
                | "into_boxed_str"
                | "into_owned"
                | "to_uppercase"
                | "to_lowercase"
                | "to_path_buf"
                | "to_os_string",
            0
        ) | (
            "push"
                | "push_str"
                | "push_back"
                | "push_front"
                | "extend"
                | "extend_from_slice"
                | "append"
                | "entry"
                | "join"
                | "repeat"
                | "reserve"
                | "reserve_exact"
                | "split_off",
            1
        ) | ("insert", 1 | 2)
            | ("insert_str" | "replace" | "resize", 2)
            | ("replacen", 3)
    )
}

fn first_span(path: &Path) -> Span {
    match &path.leading_colon {
        Some(colons) => colons.spans[0],
        None => path.segments[0].ident.span(),
    }
}

fn truncate(s: String) -> String {
    if s.chars().count() <= MAX_EXPR_CHARS {
        return s;
    }
    let mut cut: String = s.chars().take(MAX_EXPR_CHARS - 3).collect();
    cut.push_str("...");
    cut
}

/// Renders tokens the way they are usually written: `a.iter().map(|x| x * 2).collect::<Vec<_>>()`
/// rather than `TokenStream`'s `a . iter () . map (| x | x * 2)`.
pub(crate) fn render(tokens: TokenStream) -> String {
    let mut r = Renderer::default();
    r.stream(tokens);
    r.out
}

/// What the previous token leaves for the next one.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum Prev {
    /// Nothing yet, or just after an opening delimiter.
    #[default]
    Start,
    /// A value ended: identifier, literal, closing delimiter, `?`.
    Operand,
    /// A keyword that does not end a value (`move`, `return`, `as`, ...).
    Keyword,
    /// No space after: `.`, `::`, a unary operator, a lifetime's `'`, a macro's `!`, `<` of
    /// generics.
    Tight,
    /// A space after: `,`, `;`, `:`, a binary operator, the closing `|` of closure parameters.
    Spaced,
}

#[derive(Default)]
struct Renderer {
    out: String,
    prev: Prev,
    /// Whether the previous token was `::` (so `<` opens generics).
    after_path_sep: bool,
    /// Whether the previous word starts with a capital letter (so `<` likely opens generics).
    after_type_name: bool,
    /// Depth of open generic `<`.
    angle: usize,
    /// Inside `|...|` closure parameters.
    closure_params: bool,
}

const NON_VALUE_KEYWORDS: &[&str] = &[
    "as", "async", "box", "break", "const", "dyn", "else", "for", "if", "impl", "in", "let",
    "loop", "match", "move", "mut", "ref", "return", "static", "unsafe", "where", "while", "yield",
];

/// Operators of more than one character, longest first.
const OPERATORS: &[&str] = &[
    "..=", "...", "<<=", ">>=", "::", "..", "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "+=",
    "-=", "*=", "/=", "%=", "^=", "&=", "|=", "<<", ">>",
];

impl Renderer {
    fn stream(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Ident(ident) => {
                    let word = ident.to_string();
                    self.word(&word, NON_VALUE_KEYWORDS.contains(&word.as_str()));
                    self.after_type_name = word.starts_with(|c: char| c.is_ascii_uppercase());
                    i += 1;
                }
                TokenTree::Literal(lit) => {
                    self.word(&lit.to_string(), false);
                    i += 1;
                }
                TokenTree::Group(group) => {
                    self.group(group.delimiter(), group.stream());
                    i += 1;
                }
                TokenTree::Punct(_) => {
                    let (op, len) = self.operator(&tokens[i..]);
                    let next_is_group = matches!(tokens.get(i + len), Some(TokenTree::Group(_)));
                    self.punct(&op, next_is_group);
                    i += len;
                }
            }
            if !matches!(&tokens[i - 1], TokenTree::Ident(_)) {
                self.after_type_name = false;
            }
        }
    }

    fn space_if(&mut self, cond: bool) {
        if cond {
            self.out.push(' ');
        }
    }

    fn word(&mut self, word: &str, keyword: bool) {
        self.space_if(matches!(
            self.prev,
            Prev::Operand | Prev::Keyword | Prev::Spaced
        ));
        self.out.push_str(word);
        self.prev = if keyword {
            Prev::Keyword
        } else {
            Prev::Operand
        };
        self.after_path_sep = false;
    }

    fn group(&mut self, delimiter: Delimiter, inner: TokenStream) {
        if delimiter == Delimiter::None {
            self.stream(inner);
            return;
        }
        let (open, close) = match delimiter {
            Delimiter::Parenthesis => ("(", ")"),
            Delimiter::Bracket => ("[", "]"),
            _ => ("{", "}"),
        };
        let space_before = match delimiter {
            Delimiter::Brace => matches!(self.prev, Prev::Operand | Prev::Keyword | Prev::Spaced),
            _ => matches!(self.prev, Prev::Keyword | Prev::Spaced),
        };
        self.space_if(space_before);
        let mut inner_renderer = Renderer::default();
        inner_renderer.stream(inner);
        self.out.push_str(open);
        if delimiter == Delimiter::Brace && !inner_renderer.out.is_empty() {
            self.out.push(' ');
            self.out.push_str(&inner_renderer.out);
            self.out.push(' ');
        } else {
            self.out.push_str(&inner_renderer.out);
        }
        self.out.push_str(close);
        self.prev = Prev::Operand;
        self.after_path_sep = false;
    }

    /// The operator starting at `tokens[0]` (a punct) and how many puncts it spans.
    fn operator(&self, tokens: &[TokenTree]) -> (String, usize) {
        let mut chars = String::new();
        for tt in tokens.iter().take(3) {
            let TokenTree::Punct(p) = tt else { break };
            chars.push(p.as_char());
            if p.spacing() == Spacing::Alone {
                break;
            }
        }
        for op in OPERATORS {
            // Inside generics, `>>` is two closing brackets.
            if self.angle > 0 && op.starts_with('>') {
                continue;
            }
            if chars.starts_with(op) {
                return ((*op).to_string(), op.len());
            }
        }
        (chars[..1].to_string(), 1)
    }

    fn punct(&mut self, op: &str, next_is_group: bool) {
        let prev = self.prev;
        let was_path_sep = self.after_path_sep;
        self.after_path_sep = false;
        let spaced_before = matches!(prev, Prev::Keyword | Prev::Spaced);
        match op {
            "::" => {
                self.space_if(spaced_before);
                self.out.push_str(op);
                self.prev = Prev::Tight;
                self.after_path_sep = true;
            }
            "." | ".." | "..=" | "..." => {
                self.space_if(spaced_before && op != ".");
                self.out.push_str(op);
                self.prev = Prev::Tight;
            }
            "," | ";" | ":" => {
                self.out.push_str(op);
                self.prev = Prev::Spaced;
            }
            "?" => {
                self.out.push_str(op);
                self.prev = Prev::Operand;
            }
            "'" | "#" | "$" | "@" | "~" => {
                self.space_if(matches!(prev, Prev::Operand) || spaced_before);
                self.out.push_str(op);
                self.prev = Prev::Tight;
            }
            "!" if prev == Prev::Operand && next_is_group => {
                self.out.push_str(op);
                self.prev = Prev::Tight;
            }
            "<" if was_path_sep || (self.angle > 0 || self.after_type_name) => {
                self.out.push_str(op);
                self.angle += 1;
                self.prev = Prev::Tight;
            }
            ">" if self.angle > 0 => {
                self.out.push_str(op);
                self.angle -= 1;
                self.prev = Prev::Operand;
            }
            "|" if self.closure_params => {
                self.out.push_str(op);
                self.closure_params = false;
                self.prev = Prev::Spaced;
            }
            "|" if prev != Prev::Operand => {
                self.space_if(spaced_before);
                self.out.push_str(op);
                self.closure_params = true;
                self.prev = Prev::Tight;
            }
            "||" if prev != Prev::Operand => {
                self.space_if(spaced_before);
                self.out.push_str(op);
                self.prev = Prev::Spaced;
            }
            "!" | "&" | "*" | "-" | "&&" if prev != Prev::Operand => {
                self.space_if(spaced_before);
                self.out.push_str(op);
                self.prev = Prev::Tight;
            }
            _ => {
                // A binary operator.
                self.space_if(prev != Prev::Start);
                self.out.push_str(op);
                self.prev = Prev::Spaced;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        render(s.parse().unwrap())
    }

    #[test]
    fn renders_compactly() {
        assert_eq!(r("Box :: new ( x )"), "Box::new(x)");
        assert_eq!(r("vec ! [ 1 , 2 , 3 ]"), "vec![1, 2, 3]");
        assert_eq!(r("vec![0u8; n * 2]"), "vec![0u8; n * 2]");
        assert_eq!(r("format!(\"{}-{}\", a, b)"), "format!(\"{}-{}\", a, b)");
        assert_eq!(
            r("a.iter().map(|x| x * 2).collect::<Vec<_>>()"),
            "a.iter().map(|x| x * 2).collect::<Vec<_>>()"
        );
        assert_eq!(r("self.items.clone()"), "self.items.clone()");
        assert_eq!(r("(&mut *buf).push(-1)"), "(&mut *buf).push(-1)");
        assert_eq!(
            r("v.extend(a.iter().filter(|&&x| x != 0))"),
            "v.extend(a.iter().filter(|&&x| x != 0))"
        );
        assert_eq!(
            r("Arc::new(move || { let x = 1; x })"),
            "Arc::new(move || { let x = 1; x })"
        );
        assert_eq!(
            r("m.entry(k).or_insert_with(Vec::new)"),
            "m.entry(k).or_insert_with(Vec::new)"
        );
        assert_eq!(
            r("String::from(if a { \"x\" } else { \"y\" })"),
            "String::from(if a { \"x\" } else { \"y\" })"
        );
        assert_eq!(
            r("Point { x: 1, y }.to_string()"),
            "Point { x: 1, y }.to_string()"
        );
        assert_eq!(
            r("x.get(1..n).unwrap().to_vec()"),
            "x.get(1..n).unwrap().to_vec()"
        );
        assert_eq!(r("(a as u64).to_string()"), "(a as u64).to_string()");
        assert_eq!(
            r("s.chars().rev().collect::<String>()"),
            "s.chars().rev().collect::<String>()"
        );
        assert_eq!(
            r("HashMap::<String, Vec<u8>>::with_capacity(n)"),
            "HashMap::<String, Vec<u8>>::with_capacity(n)"
        );
        assert_eq!(r("f(a)?.to_owned()"), "f(a)?.to_owned()");
        assert_eq!(r("parts.join(\", \")"), "parts.join(\", \")");
        assert_eq!(r("v.push(a < b && !c)"), "v.push(a < b && !c)");
        assert_eq!(r("::std::boxed::Box::new(1)"), "::std::boxed::Box::new(1)");
    }

    #[test]
    fn truncates_long_expressions() {
        let long = format!("vec![{}]", vec!["1"; 60].join(", "));
        let t = truncate(r(&long));
        assert_eq!(t.chars().count(), MAX_EXPR_CHARS);
        assert!(t.starts_with("vec![1, 1,") && t.ends_with("..."));
    }

    fn sites(body: &str) -> Vec<(usize, usize, String, String)> {
        let block: syn::Block = syn::parse_str(body).unwrap();
        scan_block(&block)
            .into_iter()
            .map(|s| (s.line, s.column, s.expr, s.kind))
            .collect()
    }

    fn kinds(body: &str) -> Vec<String> {
        sites(body).into_iter().map(|s| s.3).collect()
    }

    #[test]
    fn finds_sites_with_positions() {
        let body = "{\n    let b = Box::new(1);\n    let v = vec![b.clone(); 2];\n    \
                    let s = format!(\"{}\", x.to_string());\n    out.push(s);\n}";
        assert_eq!(
            sites(body),
            vec![
                (2, 13, "Box::new(1)".into(), "Box::new".into()),
                (3, 13, "vec![b.clone(); 2]".into(), "vec!".into()),
                (3, 20, "b.clone()".into(), "clone".into()),
                (
                    4,
                    13,
                    "format!(\"{}\", x.to_string())".into(),
                    "format!".into()
                ),
                (4, 29, "x.to_string()".into(), "to_string".into()),
                (5, 9, "out.push(s)".into(), "push".into()),
            ]
        );
    }

    #[test]
    fn method_chains_are_listed_in_reading_order() {
        let body = "{ a.clone().to_string().into_boxed_str() }";
        assert_eq!(kinds(body), ["clone", "to_string", "into_boxed_str"]);
    }

    #[test]
    fn closures_yes_nested_items_no() {
        let body = "{
            let f = |x: u32| x.to_string();
            fn inner() -> String { String::from(\"no\") }
            struct S;
            impl S { fn m() -> Vec<u8> { Vec::with_capacity(4) } }
            async move { Rc::new(1) };
        }";
        assert_eq!(kinds(body), ["to_string", "Rc::new"]);
    }

    #[test]
    fn kinds_of_calls() {
        let body = "{
            std::boxed::Box::new(1); Box::<u8>::pin(2); Arc::from(x); Rc::clone(&r);
            String::with_capacity(8); Vec::new(); String::new(); vec![]; HashMap::from([(1, 2)]);
            h.join(); parts.join(\"/\"); it.collect(); o.insert(1); m.insert(1, 2); v.concat();
            x.into(); opt.replace(1); s.replace(\"a\", \"b\");
            assert_eq!(a.to_vec(), b);
            my_macro!(c.clone());
        }";
        assert_eq!(
            kinds(body),
            [
                "Box::new",
                "Box::pin",
                "Arc::from",
                "String::with_capacity",
                "HashMap::from",
                "join",
                "collect",
                "insert",
                "insert",
                "concat",
                "replace",
                "to_vec",
            ]
        );
    }
}
