//! The expansion of `#[track_allocs]`, checked token by token.
//!
//! A proc-macro crate exports nothing but its macros, and the test build enables alloc-probe's
//! `instrument` feature for the whole workspace, so neither the real attribute nor its
//! `enabled` switch can be observed from here in the "off" state. Instead this compiles the
//! macro's own modules (all written against `proc_macro2`, none against the compiler's
//! `proc_macro`) into the test, and calls `expand::track_allocs(args, item, enabled)` with
//! both values of `enabled`. Outside a compiler proc-macro2 parses strings itself, spans
//! included, so line and column numbers are checked too.
//!
//! (The modules' own unit tests come along and run here a second time.)

#[path = "../alloc-macros/src/args.rs"]
mod args;
#[path = "../alloc-macros/src/expand.rs"]
mod expand;
#[path = "../alloc-macros/src/scan.rs"]
mod scan;

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;

fn tokens(s: &str) -> TokenStream {
    s.parse().unwrap()
}

fn expand(args: &str, item: &str, enabled: bool) -> TokenStream {
    expand::track_allocs(tokens(args), tokens(item), enabled)
}

/// Token-level text, for comparing streams: one space between tokens, whatever their spacing.
fn text(t: impl ToTokens) -> String {
    fn walk(stream: TokenStream, out: &mut Vec<String>) {
        for tt in stream {
            match tt {
                TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::None => ("", ""),
                    };
                    out.push(open.to_string());
                    walk(g.stream(), out);
                    out.push(close.to_string());
                }
                TokenTree::Punct(p) => out.push(p.as_char().to_string()),
                other => out.push(other.to_string()),
            }
        }
    }
    let mut out = Vec::new();
    walk(t.to_token_stream(), &mut out);
    out.retain(|s| !s.is_empty());
    out.join(" ")
}

/// Whether `hay` (from `text`) contains the tokens of `needle`.
fn has(hay: &str, needle: &str) -> bool {
    hay.contains(&text(tokens(needle)))
}

const ITEMS: &[(&str, &str)] = &[
    ("", "fn f(x: u32) -> Vec<u32> { vec![x; 2] }"),
    (
        "name = \"parse\", max_allocs = 3, max_bytes = \"1 KiB\", enforce = false",
        "pub(crate) fn parse<'a, T: Clone>(&'a self, s: &str) -> Result<T, E> where T: Default { \
         if s.is_empty() { return Err(E) } let x = s.parse()?; Ok(x) }",
    ),
    ("", "async fn f(a: &str) -> String { a.to_string() }"),
    ("", "unsafe extern \"C\" fn f() -> u8 { 1 }"),
    ("skip", "fn f() { let _ = Box::new(1); }"),
    (
        "max_allocs = 1",
        "impl<T> Trait for S<T> { fn a(&self) {} #[track_allocs(skip)] fn b(self: Box<Self>) {} \
         #[alloc_probe::track_allocs(name = \"c\")] fn c() {} const fn d() {} type X = u8; }",
    ),
    (
        "",
        "mod m { fn f() {} mod inner { #[track_allocs(enforce = true)] impl S { fn g() {} } } \
         trait T { fn h(&self) { } fn i(&self); } }",
    ),
    (
        "",
        "fn outer() { #[track_allocs] fn inner() { String::new(); } inner() }",
    ),
];

#[test]
fn disabled_leaves_every_item_unchanged() {
    for (args, item) in ITEMS {
        let out = expand(args, item, false);
        assert_eq!(
            text(&out),
            text(tokens(item)),
            "#[track_allocs({args})] {item}"
        );
    }
}

#[test]
fn enabled_changes_bodies_only() {
    for (args, item) in ITEMS {
        let out = expand(args, item, true);
        let out: syn::Item = syn::parse2(out).unwrap();
        let item: syn::Item = syn::parse_str(item).unwrap();
        // Same kind of item, same signatures, same number of members.
        match (&out, &item) {
            (syn::Item::Fn(a), syn::Item::Fn(b)) => assert_eq!(text(&a.sig), text(&b.sig)),
            (syn::Item::Impl(a), syn::Item::Impl(b)) => {
                assert_eq!(a.items.len(), b.items.len());
                assert_eq!(text(&a.self_ty), text(&b.self_ty));
            }
            (syn::Item::Mod(a), syn::Item::Mod(b)) => {
                assert_eq!(
                    a.content.as_ref().unwrap().1.len(),
                    b.content.as_ref().unwrap().1.len()
                )
            }
            _ => panic!("item kind changed: {}", text(&out)),
        }
    }
}

#[test]
fn errors_are_the_same_with_and_without_the_feature() {
    for (args, item) in [
        ("bogus = 1", "fn f() {}"),
        ("", "const fn f() {}"),
        ("", "impl S { #[track_allocs(max_allocs = -1)] fn f() {} }"),
        ("name = \"x\"", "mod m {}"),
        ("", "struct S;"),
    ] {
        let on = text(expand(args, item, true));
        let off = text(expand(args, item, false));
        assert_eq!(on, off);
        assert!(on.starts_with(": : core : : compile_error !"), "{on}");
    }
}

/// The statements of the expanded body of the function `out`.
fn body(out: &TokenStream) -> String {
    let f: syn::ItemFn = syn::parse2(out.clone()).unwrap();
    f.block.stmts.iter().map(text).collect::<Vec<_>>().join(" ")
}

#[test]
fn sync_shape() {
    let item = "fn parse_line(&self, s: &str) -> Result<X, E> {\n    \
                let b = Box::new(s.len());\n    let v: Vec<_> = s.split(',').collect();\n    \
                Ok(X(b, v))\n}";
    let out = expand("max_allocs = 10, max_bytes = \"4 KiB\"", item, true);
    let expected = tokens(
        "static __ALLOC_PROBE_FN: ::alloc_probe::__private::FnInfo = ::alloc_probe::__private::FnInfo {
            name: \"parse_line\",
            path: __alloc_probe_here,
            file: ::core::file!(),
            line: 1,
            sites: &[
                ::alloc_probe::__private::SourceSite { line: 2, column: 13, expr: \"Box::new(s.len())\", kind: \"Box::new\", },
                ::alloc_probe::__private::SourceSite { line: 3, column: 34, expr: \"s.split(',').collect()\", kind: \"collect\", }
            ],
            max_allocs: ::core::option::Option::Some(10u64),
            max_bytes: ::core::option::Option::Some(4096u64),
            enforce: ::core::cfg!(debug_assertions),
        };
        fn __alloc_probe_here() -> &'static ::core::primitive::str {
            ::core::any::type_name_of_val(&__alloc_probe_here)
        }
        let __alloc_probe_guard = ::alloc_probe::__private::enter(&__ALLOC_PROBE_FN);
        let __alloc_probe_value: Result<X, E> = {
            let b = Box::new(s.len());
            let v: Vec<_> = s.split(',').collect();
            Ok(X(b, v))
        };
        #[allow(unreachable_code)]
        ::core::mem::drop(__alloc_probe_guard);
        __alloc_probe_value",
    );
    assert_eq!(body(&out), text(expected));
}

#[test]
fn user_tokens_keep_their_spans() {
    let item = "fn f() {\n    let x = undefined_name;\n}";
    let out = expand("", item, true);
    let found = out
        .into_iter()
        .flat_map(|t| match t {
            proc_macro2::TokenTree::Group(g) => g.stream().into_iter().collect(),
            other => vec![other],
        })
        .flat_map(|t| match t {
            proc_macro2::TokenTree::Group(g) => g.stream().into_iter().collect(),
            other => vec![other],
        })
        .find(|t| t.to_string() == "undefined_name")
        .expect("the body is kept");
    let at = found.span().start();
    assert_eq!((at.line, at.column), (2, 12));
}

/// The `static` and the path function, for a function `name` declared on line 1 with
/// default options.
fn info(name: &str, sites: &str) -> String {
    format!(
        "static __ALLOC_PROBE_FN: ::alloc_probe::__private::FnInfo = \
         ::alloc_probe::__private::FnInfo {{
            name: \"{name}\",
            path: __alloc_probe_here,
            file: ::core::file!(),
            line: 1,
            sites: &[{sites}],
            max_allocs: ::core::option::Option::None,
            max_bytes: ::core::option::Option::None,
            enforce: ::core::cfg!(debug_assertions),
        }};
        fn __alloc_probe_here() -> &'static ::core::primitive::str {{
            ::core::any::type_name_of_val(&__alloc_probe_here)
        }}"
    )
}

const ALLOWS: &str = "#[allow(unknown_lints, unreachable_code, clippy::diverging_sub_expression, \
                      clippy::empty_loop, clippy::let_unit_value, clippy::needless_return, \
                      clippy::unreachable)]";

#[test]
fn async_shape() {
    let item = "async fn fetch(&self, key: &str) -> Result<String, E> {
    let v = self.get(key)?;
    Ok(v.to_owned())
}";
    let site =
        "::alloc_probe::__private::SourceSite { line: 3, column: 10, expr: \"v.to_owned()\", \
                kind: \"to_owned\", }";
    // No guard: the future enters the tracked call on each poll. The unreachable return
    // fixes the future's output type before the body is checked.
    let expected = format!(
        "{info}
        ::alloc_probe::__private::instrument(&__ALLOC_PROBE_FN, async move {{
            {ALLOWS}
            if false {{
                let __alloc_probe_ret: Result<String, E> = loop {{}};
                return __alloc_probe_ret;
            }}
            {{
                let v = self.get(key)?;
                Ok(v.to_owned())
            }}
        }}).await",
        info = info("fetch", site)
    );
    assert_eq!(body(&expand("", item, true)), text(tokens(&expected)));
}

#[test]
fn boxed_future_shape() {
    // What #[async_trait] makes of an `async fn`.
    let item = "fn run<'a>(&'a self) -> Pin<Box<dyn Future<Output = usize> + Send + 'a>> {
    Box::pin(async move {
        let __self = self;
        let __ret: usize = { __self.v.clone().len() };
        __ret
    })
}";
    // Only the future's sites: `Box::pin` is the plumbing.
    let site = "::alloc_probe::__private::SourceSite { line: 4, column: 39, expr: \
                \"__self.v.clone()\", kind: \"clone\", }";
    let expected = format!(
        "{info}
        {{
            Box::pin(::alloc_probe::__private::instrument(&__ALLOC_PROBE_FN, async move {{
                {ALLOWS}
                if false {{
                    let __alloc_probe_ret: usize = loop {{}};
                    return __alloc_probe_ret;
                }}
                {{
                    let __self = self;
                    let __ret: usize = {{ __self.v.clone().len() }};
                    __ret
                }}
            }},))
        }}",
        info = info("run", site)
    );
    assert_eq!(body(&expand("", item, true)), text(tokens(&expected)));
}

#[test]
fn tail_async_block_shape() {
    let item = "fn later(n: u32) -> impl Future<Output = Vec<u32>> {
    let m = n + 1;
    async move { vec![m] }
}";
    let site =
        "::alloc_probe::__private::SourceSite { line: 3, column: 18, expr: \"vec![m]\", kind: \"vec!\", }";
    let expected = format!(
        "{info}
        {{
            let m = n + 1;
            ::alloc_probe::__private::instrument(&__ALLOC_PROBE_FN, async move {{
                {ALLOWS}
                if false {{
                    let __alloc_probe_ret: Vec<u32> = loop {{}};
                    return __alloc_probe_ret;
                }}
                {{ vec![m] }}
            }},)
        }}",
        info = info("later", site)
    );
    assert_eq!(body(&expand("", item, true)), text(tokens(&expected)));
}

#[test]
fn async_impl_trait_output_has_no_fake_return() {
    let body = body(&expand("", "async fn f() -> impl Display { 1 }", true));
    assert!(!body.contains("__alloc_probe_ret"), "{body}");
}

#[test]
fn blocks_pass_options_and_names() {
    let item = "impl S {
        fn a(&self) -> Vec<u8> { vec![1] }
        #[track_allocs(name = \"bee\", max_allocs = 5)] fn b(&self) {}
        #[track_allocs(skip)] fn c(&self) {}
        const fn d() {}
    }";
    let out: syn::ItemImpl =
        syn::parse2(expand("max_allocs = 1, enforce = true", item, true)).unwrap();
    let fns: Vec<&syn::ImplItemFn> = out
        .items
        .iter()
        .map(|i| match i {
            syn::ImplItem::Fn(f) => f,
            _ => unreachable!(),
        })
        .collect();
    let a = text(&fns[0].block);
    assert!(has(&a, "name: \"a\""), "{a}");
    assert!(
        has(&a, "max_allocs: ::core::option::Option::Some(1u64)"),
        "{a}"
    );
    assert!(has(&a, "enforce: true"), "{a}");
    let b = text(&fns[1].block);
    assert!(has(&b, "name: \"bee\""), "{b}");
    assert!(has(&b, "Some(5u64)"), "{b}");
    assert!(has(&b, "enforce: true"), "{b}");
    assert!(
        fns[1].attrs.is_empty() && fns[2].attrs.is_empty(),
        "attributes are consumed"
    );
    assert_eq!(text(&fns[2].block), "{ }");
    assert_eq!(text(&fns[3].block), "{ }");
}

#[test]
fn inner_attributes_stay_first() {
    let out = expand("", "fn f() { #![allow(unused)] let x = 1; }", true);
    let s = text(&out);
    let start = text(tokens(
        "fn f() { # ! [allow(unused)] static __ALLOC_PROBE_FN : x }",
    ));
    let start = start.strip_suffix(" : x }").unwrap();
    assert!(s.starts_with(start), "{s}");
}
