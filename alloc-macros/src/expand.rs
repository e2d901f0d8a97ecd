//! The expansion: a walk over the annotated item, and every `quote!` of the crate.
//!
//! A tracked function keeps its signature, attributes and body tokens (so errors in user code
//! still point at user code). Its body gets a `static` describing the function, and is then
//! either run inside a scope guard (sync) or wrapped in an instrumented future (async).

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{
    Attribute, Block, Error, Expr, ExprAsync, GenericArgument, ImplItem, Item, ItemImpl, ItemMod,
    ItemTrait, LitStr, PathArguments, ReturnType, Signature, Stmt, TraitItem, Type, TypeParamBound,
};

use crate::args::{is_track_allocs, take_attr, Args, Number};
use crate::scan::{scan_block, scan_expr, Site};

/// The whole attribute, on `proc_macro2` streams so it can be tested outside a compiler.
///
/// With `enabled` false the item comes back unchanged (the very same tokens) once the options
/// check out; an error comes back beside the item as written, so rustc still reports the
/// item's own errors and nothing else is lost.
pub(crate) fn track_allocs(args: TokenStream, item: TokenStream, enabled: bool) -> TokenStream {
    let args = match syn::parse2::<Args>(args) {
        Ok(args) => args,
        Err(e) => return with_errors(e, item),
    };
    let mut parsed: Item = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(e) => {
            let e = Error::new(
                e.span(),
                format!("`#[track_allocs]` could not parse this item: {e}"),
            );
            return with_errors(e, item);
        }
    };
    let mut walker = Walker {
        instrument: enabled,
        errors: None,
    };
    walker.top(&mut parsed, &args);
    match walker.errors {
        None if enabled => parsed.into_token_stream(),
        None => item,
        Some(errors) => {
            // The item as written, less the nested `#[track_allocs]` attributes already read
            // here, which would otherwise report the same errors a second time.
            let mut plain: Item = syn::parse2(item).expect("parsed above");
            Walker {
                instrument: false,
                errors: None,
            }
            .top(&mut plain, &args);
            with_errors(errors, plain.into_token_stream())
        }
    }
}

fn with_errors(errors: Error, item: TokenStream) -> TokenStream {
    let mut out = errors.into_compile_error();
    out.extend(item);
    out
}

/// Walks the item, reads nested attributes, collects every error, and (if `instrument`)
/// rewrites the bodies of the functions to track.
struct Walker {
    instrument: bool,
    errors: Option<Error>,
}

impl Walker {
    fn error(&mut self, e: Error) {
        match &mut self.errors {
            Some(all) => all.combine(e),
            None => self.errors = Some(e),
        }
    }

    fn top(&mut self, item: &mut Item, args: &Args) {
        if let Some(attrs) = item_attrs(item) {
            if let Some(extra) = attrs.iter().find(|a| is_track_allocs(a)) {
                let e = Error::new_spanned(
                    extra,
                    "`#[track_allocs]` is given twice on this item; merge the options into one \
                     attribute",
                );
                attrs.retain(|a| !is_track_allocs(a));
                self.error(e);
            }
        }
        let supported = matches!(
            item,
            Item::Fn(_) | Item::Impl(_) | Item::Trait(_) | Item::Mod(_)
        );
        if args.skip.is_some() && supported {
            return;
        }
        match item {
            Item::Fn(f) => self.func(&f.sig, &mut f.block, args, true),
            Item::Impl(imp) => {
                if let Err(e) = args.check_block("an `impl` block") {
                    self.error(e);
                }
                self.impl_block(imp, args);
            }
            Item::Trait(t) => {
                if let Err(e) = args.check_block("a trait") {
                    self.error(e);
                }
                self.trait_def(t, args);
            }
            Item::Mod(m) => {
                if let Err(e) = args.check_block("a module") {
                    self.error(e);
                }
                self.module(m, args);
            }
            other => {
                let e = unsupported(other);
                self.error(e);
            }
        }
    }

    /// A function inside a tracked block: its own `#[track_allocs(...)]`, if any, is read,
    /// removed, and merged over the block's options.
    fn nested_fn(
        &mut self,
        attrs: &mut Vec<Attribute>,
        sig: &Signature,
        block: &mut Block,
        inherited: &Args,
    ) {
        match take_attr(attrs) {
            Ok(None) => self.func(sig, block, inherited, false),
            Ok(Some(own)) => self.func(sig, block, &inherited.merged(&own), true),
            Err(e) => self.error(e),
        }
    }

    /// `explicit`: the attribute was written on this very function (so `const fn` is an error
    /// rather than a function a block leaves alone).
    fn func(&mut self, sig: &Signature, block: &mut Block, args: &Args, explicit: bool) {
        if args.skip.is_some() {
            return;
        }
        if let Some(constness) = &sig.constness {
            if explicit {
                self.error(Error::new(
                    constness.span,
                    "`#[track_allocs]` cannot instrument a `const fn`: it may run at compile \
                     time, where no allocation can be tracked; remove `const` or the attribute",
                ));
            }
            return;
        }
        if self.instrument {
            *block = tracked_body(sig, block, args);
        }
    }

    /// The options for a nested block (`impl`, trait, module); `None` if it is skipped or its
    /// attribute is wrong.
    fn nested_block_args(
        &mut self,
        attrs: &mut Vec<Attribute>,
        inherited: &Args,
        what: &str,
    ) -> Option<Args> {
        match take_attr(attrs) {
            Ok(None) => Some(inherited.clone()),
            Ok(Some(own)) if own.skip.is_some() => None,
            Ok(Some(own)) => {
                if let Err(e) = own.check_block(what) {
                    self.error(e);
                }
                Some(inherited.merged(&own))
            }
            Err(e) => {
                self.error(e);
                None
            }
        }
    }

    fn impl_block(&mut self, imp: &mut ItemImpl, args: &Args) {
        for item in &mut imp.items {
            match item {
                ImplItem::Fn(f) => self.nested_fn(&mut f.attrs, &f.sig, &mut f.block, args),
                ImplItem::Const(c) => self.reject_attr(&mut c.attrs, "an associated const"),
                ImplItem::Type(t) => self.reject_attr(&mut t.attrs, "an associated type"),
                ImplItem::Macro(m) => self.reject_attr(&mut m.attrs, "a macro invocation"),
                _ => {}
            }
        }
    }

    fn trait_def(&mut self, t: &mut ItemTrait, args: &Args) {
        for item in &mut t.items {
            match item {
                TraitItem::Fn(f) => match &mut f.default {
                    Some(block) => self.nested_fn(&mut f.attrs, &f.sig, block, args),
                    None => {
                        if let Some(attr) = f.attrs.iter().find(|a| is_track_allocs(a)) {
                            self.error(Error::new_spanned(
                                attr,
                                "`#[track_allocs]` needs a function body, and this trait method \
                                 has none; put the attribute on the method in each `impl` instead",
                            ));
                            f.attrs.retain(|a| !is_track_allocs(a));
                        }
                    }
                },
                TraitItem::Const(c) => self.reject_attr(&mut c.attrs, "an associated const"),
                TraitItem::Type(t) => self.reject_attr(&mut t.attrs, "an associated type"),
                TraitItem::Macro(m) => self.reject_attr(&mut m.attrs, "a macro invocation"),
                _ => {}
            }
        }
    }

    fn module(&mut self, m: &mut ItemMod, args: &Args) {
        let Some((_, items)) = &mut m.content else {
            self.error(Error::new(
                m.ident.span(),
                format!(
                    "`#[track_allocs]` cannot see the items of `mod {};` from here; use it \
                     on an inline module (`mod {} {{ ... }}`), or on the functions and `impl` \
                     blocks inside the module's file",
                    m.ident, m.ident
                ),
            ));
            return;
        };
        for item in items {
            self.nested_item(item, args);
        }
    }

    fn nested_item(&mut self, item: &mut Item, args: &Args) {
        match item {
            Item::Fn(f) => self.nested_fn(&mut f.attrs, &f.sig, &mut f.block, args),
            Item::Impl(imp) => {
                if let Some(args) = self.nested_block_args(&mut imp.attrs, args, "an `impl` block")
                {
                    self.impl_block(imp, &args);
                }
            }
            Item::Trait(t) => {
                if let Some(args) = self.nested_block_args(&mut t.attrs, args, "a trait") {
                    self.trait_def(t, &args);
                }
            }
            Item::Mod(m) => {
                let explicit = m.attrs.iter().any(is_track_allocs);
                if m.content.is_none() && !explicit {
                    return;
                }
                if let Some(args) = self.nested_block_args(&mut m.attrs, args, "a module") {
                    self.module(m, &args);
                }
            }
            other => {
                let what = describe(other);
                if let Some(attrs) = item_attrs(other) {
                    self.reject_attr(attrs, &what);
                }
            }
        }
    }

    /// Removes a `#[track_allocs]` attribute from an item it cannot apply to, with an error.
    fn reject_attr(&mut self, attrs: &mut Vec<Attribute>, what: &str) {
        if let Some(attr) = attrs.iter().find(|a| is_track_allocs(a)) {
            let e = Error::new_spanned(attr, unsupported_message(what));
            self.error(e);
            attrs.retain(|a| !is_track_allocs(a));
        }
    }
}

fn unsupported_message(what: &str) -> String {
    format!(
        "`#[track_allocs]` cannot be used on {what}; it instruments functions, and the \
         functions of `impl` blocks, traits and inline modules"
    )
}

/// The error for an unsupported top-level item, on its keyword.
fn unsupported(item: &Item) -> Error {
    let span = match item {
        Item::Struct(i) => i.struct_token.span,
        Item::Enum(i) => i.enum_token.span,
        Item::Union(i) => i.union_token.span,
        Item::Const(i) => i.const_token.span,
        Item::Static(i) => i.static_token.span,
        Item::Type(i) => i.type_token.span,
        Item::Use(i) => i.use_token.span,
        Item::ExternCrate(i) => i.extern_token.span,
        Item::ForeignMod(i) => i.abi.extern_token.span,
        Item::Macro(i) => i.mac.path.span(),
        Item::TraitAlias(i) => i.trait_token.span,
        other => other.span(),
    };
    Error::new(span, unsupported_message(&describe(item)))
}

fn describe(item: &Item) -> String {
    match item {
        Item::Struct(_) => "a struct",
        Item::Enum(_) => "an enum",
        Item::Union(_) => "a union",
        Item::Const(_) => "a const item",
        Item::Static(_) => "a static",
        Item::Type(_) => "a type alias",
        Item::Use(_) => "a `use` declaration",
        Item::ExternCrate(_) => "an `extern crate` declaration",
        Item::ForeignMod(_) => "an `extern` block",
        Item::Macro(_) => "a macro invocation",
        Item::TraitAlias(_) => "a trait alias",
        Item::Verbatim(tokens) if tokens.clone().into_iter().any(|t| t.to_string() == "fn") => {
            "a function without a body"
        }
        _ => "this item",
    }
    .to_string()
}

fn item_attrs(item: &mut Item) -> Option<&mut Vec<Attribute>> {
    Some(match item {
        Item::Const(i) => &mut i.attrs,
        Item::Enum(i) => &mut i.attrs,
        Item::ExternCrate(i) => &mut i.attrs,
        Item::Fn(i) => &mut i.attrs,
        Item::ForeignMod(i) => &mut i.attrs,
        Item::Impl(i) => &mut i.attrs,
        Item::Macro(i) => &mut i.attrs,
        Item::Mod(i) => &mut i.attrs,
        Item::Static(i) => &mut i.attrs,
        Item::Struct(i) => &mut i.attrs,
        Item::Trait(i) => &mut i.attrs,
        Item::TraitAlias(i) => &mut i.attrs,
        Item::Type(i) => &mut i.attrs,
        Item::Union(i) => &mut i.attrs,
        Item::Use(i) => &mut i.attrs,
        _ => return None,
    })
}

/// The new body of a tracked function. Inner attributes (`#![...]`) stay where syn keeps
/// them, in the function's attributes, and are printed first inside the new braces.
fn tracked_body(sig: &Signature, block: &Block, args: &Args) -> Block {
    let body = if sig.asyncness.is_some() {
        // `async fn`: the signature stays; the body becomes an instrumented future, entered
        // on each poll, so no scope is held across an `.await`.
        let info = fn_info(sig, args, &scan_block(block));
        let fake = match &sig.output {
            ReturnType::Default => fake_return(&syn::parse_quote!(())),
            ReturnType::Type(_, ty) => fake_return(ty),
        };
        quote! {
            #info
            ::alloc_probe::__private::instrument(&__ALLOC_PROBE_FN, async move { #fake #block }).await
        }
    } else if let Some(block) = instrument_returned_future(sig, block, args) {
        block
    } else {
        let info = fn_info(sig, args, &scan_block(block));
        let enter = quote! {
            #info
            let __alloc_probe_guard = ::alloc_probe::__private::enter(&__ALLOC_PROBE_FN);
        };
        // The body's value is taken before the call ends: a block's tail expression drops its
        // temporaries after the block's locals (before edition 2024), which would free them
        // after the call, as if they escaped it. The annotation gives the body the return
        // type to infer from, where one can be written in a `let`.
        let annotation = match &sig.output {
            ReturnType::Default => Some(quote!(: ())),
            // `-> !` never returns a value; a `let` cannot name `impl Trait`, and without the
            // return type a returned closure's signature cannot be inferred.
            ReturnType::Type(_, ty) if is_never(ty) || has_impl_trait(ty) => None,
            ReturnType::Type(_, ty) if matches!(**ty, Type::Macro(_)) => None,
            ReturnType::Type(_, ty) => Some(quote!(: #ty)),
        };
        match annotation {
            None => quote! { #enter #block },
            Some(annotation) => quote! {
                #enter
                let __alloc_probe_value #annotation = #block;
                #[allow(unreachable_code)]
                ::core::mem::drop(__alloc_probe_guard);
                __alloc_probe_value
            },
        }
    };
    Block {
        brace_token: block.brace_token,
        stmts: vec![Stmt::Expr(Expr::Verbatim(body), None)],
    }
}

/// Whether a type is `!`, in parentheses or a macro's invisible group or not.
fn is_never(ty: &Type) -> bool {
    match ty {
        Type::Never(_) => true,
        Type::Paren(p) => is_never(&p.elem),
        Type::Group(g) => is_never(&g.elem),
        _ => false,
    }
}

/// Whether a type has an `impl Trait` in it, which a `let` cannot name.
fn has_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_type_impl_trait(&mut self, _: &syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut f = Finder(false);
    f.visit_type(ty);
    f.0
}

/// A sync function whose body ends in a future, `Box::pin(async move { .. })` (how
/// async-trait and hand-written trait objects do it) or a plain `async move { .. }` (for
/// `-> impl Future`): the future is what gets tracked, as in an `async fn`.
fn instrument_returned_future(sig: &Signature, block: &Block, args: &Args) -> Option<TokenStream> {
    let mut block = block.clone();
    let Some(Stmt::Expr(tail, None)) = block.stmts.last_mut() else {
        return None;
    };
    let fut: &mut Expr = match tail {
        Expr::Async(_) => tail,
        Expr::Call(call) if is_box_pin(&call.func) && call.args.len() == 1 => {
            match call.args.first_mut() {
                Some(arg @ Expr::Async(_)) => arg,
                _ => return None,
            }
        }
        _ => return None,
    };
    let Expr::Async(async_block) = fut else {
        return None;
    };
    let info = fn_info(sig, args, &scan_expr(&Expr::Async(async_block.clone())));
    let ExprAsync {
        attrs,
        async_token,
        capture,
        block: inner,
    } = async_block.clone();
    let fake = match &sig.output {
        ReturnType::Type(_, ty) => future_output(ty).map(fake_return).unwrap_or_default(),
        ReturnType::Default => TokenStream::new(),
    };
    *fut = Expr::Verbatim(quote! {
        ::alloc_probe::__private::instrument(
            &__ALLOC_PROBE_FN,
            #(#attrs)* #async_token #capture { #fake #inner },
        )
    });
    Some(quote! {
        #info
        #block
    })
}

fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(p) = func else { return false };
    let segments: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    segments.ends_with(&["Box".to_string(), "pin".to_string()])
}

/// `T` in `impl Future<Output = T>`, `Pin<Box<dyn Future<Output = T> + Send + 'a>>`, ...
fn future_output(ty: &Type) -> Option<&Type> {
    let bounds = match ty {
        Type::ImplTrait(t) => &t.bounds,
        Type::TraitObject(t) => &t.bounds,
        Type::Paren(t) => return future_output(&t.elem),
        Type::Group(t) => return future_output(&t.elem),
        Type::Path(p) => {
            return p.path.segments.iter().find_map(|seg| match &seg.arguments {
                PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
                    GenericArgument::Type(t) => future_output(t),
                    _ => None,
                }),
                _ => None,
            })
        }
        _ => return None,
    };
    bounds.iter().find_map(|b| {
        let TypeParamBound::Trait(t) = b else {
            return None;
        };
        let last = t.path.segments.last()?;
        if last.ident != "Future" {
            return None;
        }
        let PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        args.args.iter().find_map(|a| match a {
            GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
}

/// An unreachable `return` of the declared output type at the top of the future, so the
/// future's output is known before its body is checked: `?` and `.into()` infer as they did
/// in the original function, and type errors point at the user's code and signature.
/// Skipped when the type mentions `impl Trait`, which a `let` cannot name.
fn fake_return(ty: &Type) -> TokenStream {
    #[derive(Default)]
    struct FindImpl(bool);
    impl<'ast> Visit<'ast> for FindImpl {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut find = FindImpl::default();
    find.visit_type(ty);
    if find.0 {
        return TokenStream::new();
    }
    quote_spanned! {ty.span()=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            let __alloc_probe_ret: #ty = loop {};
            return __alloc_probe_ret;
        }
    }
}

/// The `static` that describes the function to the runtime, and the nested `fn` whose type
/// name gives the function's full path.
fn fn_info(sig: &Signature, args: &Args, sites: &[Site]) -> TokenStream {
    let name = match &args.name {
        Some((_, name)) => name.clone(),
        None => LitStr::new(&sig.ident.unraw().to_string(), sig.ident.span()),
    };
    let line = position(sig.ident.span(), sig.ident.span().start().line, "line");
    let sites = sites.iter().map(|site| {
        let line = position(site.span, site.line, "line");
        let column = position(site.span, site.column, "column");
        let expr = &site.expr;
        let kind = &site.kind;
        quote! {
            ::alloc_probe::__private::SourceSite {
                line: #line,
                column: #column,
                expr: #expr,
                kind: #kind,
            }
        }
    });
    let max_allocs = option_u64(args.max_allocs);
    let max_bytes = option_u64(args.max_bytes);
    let enforce = args.enforce.as_ref().map_or_else(
        || quote!(::core::cfg!(debug_assertions)),
        ToTokens::to_token_stream,
    );
    quote! {
        static __ALLOC_PROBE_FN: ::alloc_probe::__private::FnInfo = ::alloc_probe::__private::FnInfo {
            name: #name,
            path: __alloc_probe_here,
            file: ::core::file!(),
            line: #line,
            sites: &[#(#sites),*],
            max_allocs: #max_allocs,
            max_bytes: #max_bytes,
            enforce: #enforce,
        };
        fn __alloc_probe_here() -> &'static ::core::primitive::str {
            ::core::any::type_name_of_val(&__alloc_probe_here)
        }
    }
}

/// A line or column as a literal; if the compiler gave no location (rustc before 1.88),
/// `line!()`/`column!()` spanned at the token, which the compiler resolves itself.
fn position(span: Span, value: usize, which: &str) -> TokenStream {
    if value > 0 {
        let value = u32::try_from(value).unwrap_or(u32::MAX);
        return Literal::u32_unsuffixed(value).into_token_stream();
    }
    if which == "line" {
        quote_spanned!(span=> ::core::line!())
    } else {
        quote_spanned!(span=> ::core::column!())
    }
}

fn option_u64(n: Option<Number>) -> TokenStream {
    let Some(Number { value, span }) = n else {
        return quote!(::core::option::Option::None);
    };
    let mut lit = Literal::u64_suffixed(value);
    lit.set_span(span);
    quote!(::core::option::Option::Some(#lit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(args: &str, item: &str, enabled: bool) -> String {
        track_allocs(args.parse().unwrap(), item.parse().unwrap(), enabled).to_string()
    }

    #[test]
    fn disabled_is_the_identity() {
        for item in [
            "fn f(x: u32) -> Vec<u32> { vec![x] }",
            "impl S { fn a(&self) {} #[track_allocs(skip)] fn b(self) {} const fn c() {} }",
            "mod m { fn f() { let _ = Box::new(1); } }",
            "async fn f() -> u8 { 1 }",
        ] {
            assert_eq!(
                expand("", item, false),
                item.parse::<TokenStream>().unwrap().to_string()
            );
        }
    }

    #[test]
    fn errors_keep_the_item() {
        let out = expand("frobnicate", "fn f() {}", true);
        assert!(out.starts_with(":: core :: compile_error !"), "{out}");
        assert!(out.ends_with("fn f () { }"), "{out}");
        let out = expand("", "impl S { #[track_allocs(bogus)] fn f() {} }", false);
        assert!(out.contains("unknown option `bogus`"), "{out}");
        assert!(out.ends_with("impl S { fn f () { } }"), "{out}");
    }

    #[test]
    fn future_outputs() {
        let ty = |s: &str| syn::parse_str::<Type>(s).unwrap();
        let out = |s: &str| future_output(&ty(s)).map(|t| t.to_token_stream().to_string());
        assert_eq!(
            out("impl Future<Output = u8> + Send").as_deref(),
            Some("u8")
        );
        assert_eq!(
            out("Pin<Box<dyn Future<Output = Result<(), E>> + Send + 'a>>").as_deref(),
            Some("Result < () , E >")
        );
        assert_eq!(out("BoxFuture<'a, u8>"), None);
    }
}
