//! The options of `#[track_allocs(...)]`: parsing, with every error on the offending tokens.

use proc_macro2::Span;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Error, Ident, Lit, LitBool, LitStr, Meta, Result, Token};

/// Every option, in the order the error messages list them.
const OPTIONS: &str = "`name`, `max_allocs`, `max_bytes`, `enforce` and `skip`";

/// The options of one `#[track_allocs(...)]` attribute, or the merge of a block's options with
/// a function's own.
#[derive(Clone, Default)]
pub(crate) struct Args {
    /// `name = "..."`: the report name (and the `name` key, for errors).
    pub(crate) name: Option<(Ident, LitStr)>,
    /// `max_allocs = N`: per-call budget on allocation events.
    pub(crate) max_allocs: Option<Number>,
    /// `max_bytes = N` or `max_bytes = "64 KiB"`: per-call budget on bytes allocated.
    pub(crate) max_bytes: Option<Number>,
    /// `enforce = true|false`: whether going over budget panics.
    pub(crate) enforce: Option<LitBool>,
    /// `skip`: leave this function (or block) as it is.
    pub(crate) skip: Option<Ident>,
}

/// A parsed budget and where it was written.
#[derive(Clone, Copy)]
pub(crate) struct Number {
    pub(crate) value: u64,
    pub(crate) span: Span,
}

impl Args {
    /// The options of a function inside a tracked block: its own options win, key by key.
    pub(crate) fn merged(&self, own: &Args) -> Args {
        // `skip` is never inherited into a merge: a skipped block is not walked at all.
        Args {
            name: own.name.clone().or_else(|| self.name.clone()),
            max_allocs: own.max_allocs.or(self.max_allocs),
            max_bytes: own.max_bytes.or(self.max_bytes),
            enforce: own.enforce.clone().or_else(|| self.enforce.clone()),
            skip: own.skip.clone(),
        }
    }

    /// `name` labels one function, so a block (whose options apply to each of its functions)
    /// cannot take it.
    pub(crate) fn check_block(&self, what: &str) -> Result<()> {
        match &self.name {
            Some((key, _)) => Err(Error::new(
                key.span(),
                format!(
                    "`name` labels a single function and cannot be given on {what}; \
                     put `#[track_allocs(name = \"...\")]` on the function itself"
                ),
            )),
            None => Ok(()),
        }
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> Result<Self> {
        let mut args = Args::default();
        let mut first_other: Option<Ident> = None;
        while !input.is_empty() {
            let key = parse_key(input)?;
            match key.to_string().as_str() {
                "name" => {
                    expect_eq(input, &key, "name = \"parse_header\"")?;
                    let name = parse_name(input, &key)?;
                    set_once(&mut args.name, (key.clone(), name), &key)?;
                }
                "max_allocs" => {
                    expect_eq(input, &key, "max_allocs = 100")?;
                    let n = parse_count(input, &key)?;
                    set_once(&mut args.max_allocs, n, &key)?;
                }
                "max_bytes" => {
                    expect_eq(input, &key, "max_bytes = 4096")?;
                    let n = parse_bytes(input, &key)?;
                    set_once(&mut args.max_bytes, n, &key)?;
                }
                "enforce" => {
                    expect_eq(input, &key, "enforce = false")?;
                    let b = parse_bool(input, &key)?;
                    set_once(&mut args.enforce, b, &key)?;
                }
                "skip" => {
                    if input.peek(Token![=]) || input.peek(syn::token::Paren) {
                        return Err(Error::new(
                            key.span(),
                            "`skip` takes no value: write `#[track_allocs(skip)]`",
                        ));
                    }
                    set_once(&mut args.skip, key.clone(), &key)?;
                }
                _ => return Err(unknown_option(&key)),
            }
            if key != "skip" && first_other.is_none() {
                first_other = Some(key);
            }
            if input.is_empty() {
                break;
            }
            if !input.peek(Token![,]) {
                return Err(input.error("expected `,` between options"));
            }
            input.parse::<Token![,]>()?;
        }
        if let (Some(skip), Some(other)) = (&args.skip, &first_other) {
            return Err(Error::new(
                skip.span(),
                format!(
                    "`skip` turns tracking off for this item, so it cannot be combined with \
                     other options (here `{other}`); remove one of them"
                ),
            ));
        }
        Ok(args)
    }
}

/// The `#[track_allocs]` attributes of a nested item, parsed and removed from `attrs`.
///
/// Attributes are recognised by the last segment of their path, so `#[track_allocs]`,
/// `#[alloc_probe::track_allocs]` and `#[::alloc_probe::track_allocs(...)]` all count.
/// Returns `Ok(None)` when the item has none.
pub(crate) fn take_attr(attrs: &mut Vec<Attribute>) -> Result<Option<Args>> {
    let mut found: Option<Args> = None;
    let mut result = Ok(());
    attrs.retain(|attr| {
        if !is_track_allocs(attr) {
            return true;
        }
        if result.is_ok() {
            if found.is_some() {
                result = Err(Error::new_spanned(
                    attr,
                    "`#[track_allocs]` is given twice on this item; merge the options into one \
                     attribute",
                ));
            } else {
                match attr_args(attr) {
                    Ok(args) => found = Some(args),
                    Err(e) => result = Err(e),
                }
            }
        }
        false
    });
    result.map(|()| found)
}

/// Whether `attr` is a `#[track_allocs]` attribute (by the last segment of its path).
pub(crate) fn is_track_allocs(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "track_allocs")
}

/// The options of one nested `#[track_allocs]` / `#[track_allocs(...)]` attribute.
fn attr_args(attr: &Attribute) -> Result<Args> {
    match &attr.meta {
        Meta::Path(_) => Ok(Args::default()),
        Meta::List(list) => syn::parse2(list.tokens.clone()),
        Meta::NameValue(nv) => Err(Error::new_spanned(
            nv.eq_token,
            "expected `#[track_allocs]` or `#[track_allocs(option, ...)]`",
        )),
    }
}

/// The one place where "given twice" is checked, for every option.
fn set_once<T>(slot: &mut Option<T>, value: T, key: &Ident) -> Result<()> {
    if slot.is_some() {
        return Err(Error::new(
            key.span(),
            format!("duplicate option `{key}`: each option may be given once"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

fn parse_key(input: ParseStream<'_>) -> Result<Ident> {
    if input.peek(Ident::peek_any) {
        return input.call(Ident::parse_any);
    }
    let what = if input.peek(Lit) {
        "a literal"
    } else {
        "this token"
    };
    Err(input.error(format!(
        "expected an option name, found {what}; the options are {OPTIONS}"
    )))
}

fn unknown_option(key: &Ident) -> Error {
    let written = key.unraw().to_string();
    let suggestion = ["name", "max_allocs", "max_bytes", "enforce", "skip"]
        .into_iter()
        .filter(|known| edit_distance(&written.to_ascii_lowercase(), known) <= 2)
        .min_by_key(|known| edit_distance(&written.to_ascii_lowercase(), known));
    let hint = match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    };
    Error::new(
        key.span(),
        format!("unknown option `{written}`{hint}; the options are {OPTIONS}"),
    )
}

/// Levenshtein distance, for "did you mean" hints on a handful of short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diag = above;
        }
    }
    row[b.len()]
}

fn expect_eq(input: ParseStream<'_>, key: &Ident, example: &str) -> Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        return Ok(());
    }
    let span = if input.is_empty() || input.peek(Token![,]) {
        key.span()
    } else {
        input.span()
    };
    Err(Error::new(
        span,
        format!("expected `=` and a value after `{key}`, e.g. `{example}`"),
    ))
}

/// An error on the value after `key = `, or on `key` when the value is missing.
fn bad_value(input: ParseStream<'_>, key: &Ident, msg: &str) -> Error {
    if input.is_empty() || input.peek(Token![,]) {
        Error::new(key.span(), format!("missing value: {msg}"))
    } else {
        input.error(msg)
    }
}

fn parse_name(input: ParseStream<'_>, key: &Ident) -> Result<LitStr> {
    if !input.peek(LitStr) {
        let msg = "`name` expects a string literal, e.g. `name = \"parse_header\"`";
        return Err(bad_value(input, key, msg));
    }
    let lit: LitStr = input.parse()?;
    if lit.value().trim().is_empty() {
        return Err(Error::new(lit.span(), "`name` must not be empty"));
    }
    Ok(lit)
}

fn parse_bool(input: ParseStream<'_>, key: &Ident) -> Result<LitBool> {
    if input.peek(LitBool) {
        return input.parse();
    }
    Err(bad_value(
        input,
        key,
        &format!("`{key}` expects `true` or `false`"),
    ))
}

/// A `u64` written as an integer literal (`_` separators and unsigned suffixes allowed).
fn parse_count(input: ParseStream<'_>, key: &Ident) -> Result<Number> {
    let expected = format!(
        "`{key}` expects a non-negative integer literal, e.g. `{key} = 100` \
         (constants and expressions are not supported)"
    );
    if let Some(n) = parse_int(input, key, &expected)? {
        return Ok(n);
    }
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let digits = lit.value().trim().replace('_', "");
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::new(
                lit.span(),
                format!(
                    "`{key}` expects an integer literal, not a string: write `{key} = {}`",
                    lit.value().trim()
                ),
            ));
        }
    }
    Err(bad_value(input, key, &expected))
}

/// A byte count: an integer literal, or a string with a binary unit such as `"64 KiB"`.
fn parse_bytes(input: ParseStream<'_>, key: &Ident) -> Result<Number> {
    let expected = format!(
        "`{key}` expects a byte count: an integer literal such as `{key} = 65_536` or a string \
         such as `{key} = \"64 KiB\"` (units {UNITS})"
    );
    if let Some(n) = parse_int(input, key, &expected)? {
        return Ok(n);
    }
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        return match byte_size(&lit.value()) {
            Ok(value) => Ok(Number {
                value,
                span: lit.span(),
            }),
            Err(why) => Err(Error::new(
                lit.span(),
                format!("`{key} = {}`: {why}", lit.token()),
            )),
        };
    }
    Err(bad_value(input, key, &expected))
}

/// Parses an integer literal if one is next (`Ok(None)` if something else is), rejecting
/// negative numbers, floats, signed or float suffixes, and values over `u64::MAX`.
fn parse_int(input: ParseStream<'_>, key: &Ident, expected: &str) -> Result<Option<Number>> {
    if input.peek(Token![-]) {
        let minus: Token![-] = input.parse()?;
        let mut tokens = minus.to_token_stream();
        if input.peek(Lit) {
            let lit: Lit = input.parse()?;
            lit.to_tokens(&mut tokens);
        }
        return Err(Error::new_spanned(
            tokens,
            format!("`{key}` cannot be negative"),
        ));
    }
    if input.peek(syn::LitFloat) {
        let lit: syn::LitFloat = input.parse()?;
        return Err(Error::new(lit.span(), expected));
    }
    if !input.peek(syn::LitInt) {
        return Ok(None);
    }
    let lit: syn::LitInt = input.parse()?;
    match lit.suffix() {
        "" | "u8" | "u16" | "u32" | "u64" | "usize" => {}
        suffix => {
            return Err(Error::new(
                lit.span(),
                format!("`{key}` is a u64 and cannot take the suffix `{suffix}`; remove it"),
            ))
        }
    }
    match lit.base10_parse::<u64>() {
        Ok(value) => Ok(Some(Number {
            value,
            span: lit.span(),
        })),
        Err(_) => Err(Error::new(
            lit.span(),
            format!(
                "`{key} = {}` does not fit in a u64 (at most {})",
                lit.base10_digits(),
                u64::MAX
            ),
        )),
    }
}

/// Units a `max_bytes` string may end in.
const UNITS: &str = "B, KiB, MiB, GiB or TiB";

/// `"4096"`, `"4_096 B"`, `"64 KiB"`, `"1MiB"`: a whole number and an optional binary unit.
/// The error says what is wrong and what to write instead.
fn byte_size(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let number = number.replace('_', "");
    if number.is_empty() {
        return Err(format!(
            "not a byte count; write a whole number and an optional unit ({UNITS}), \
             e.g. `\"64 KiB\"`"
        ));
    }
    if unit.starts_with(['.', ',']) {
        return Err(
            "byte counts are whole numbers; use a smaller unit, e.g. `\"1536 KiB\"` \
                    rather than `\"1.5 MiB\"`"
                .to_string(),
        );
    }
    let unit = unit.trim();
    let scale: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => {
            let hint = match unit.to_ascii_lowercase().as_str() {
                "k" | "kb" | "kib" => " (did you mean `KiB`?)",
                "m" | "mb" | "mib" => " (did you mean `MiB`?)",
                "g" | "gb" | "gib" => " (did you mean `GiB`?)",
                "t" | "tb" | "tib" => " (did you mean `TiB`?)",
                "b" | "bytes" => " (did you mean `B`?)",
                _ => "",
            };
            return Err(format!(
                "unknown unit `{unit}`{hint}; the units are {UNITS} (powers of 1024)"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("does not fit in a u64 (at most {} bytes)", u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args> {
        syn::parse_str::<Args>(s)
    }

    fn err(s: &str) -> String {
        match parse(s) {
            Ok(_) => panic!("`{s}` parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn all_options() {
        let a = parse(r#"name = "x", max_allocs = 1_000, max_bytes = "64 KiB", enforce = true,"#)
            .unwrap();
        assert_eq!(a.name.unwrap().1.value(), "x");
        assert_eq!(a.max_allocs.unwrap().value, 1000);
        assert_eq!(a.max_bytes.unwrap().value, 65536);
        assert!(a.enforce.unwrap().value);
        assert!(a.skip.is_none());
        assert!(parse("").unwrap().name.is_none());
        assert!(parse("skip").unwrap().skip.is_some());
        assert_eq!(
            parse("max_bytes = 7u64").unwrap().max_bytes.unwrap().value,
            7
        );
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(byte_size("4096"), Ok(4096));
        assert_eq!(byte_size("4_096 B"), Ok(4096));
        assert_eq!(byte_size("1MiB"), Ok(1 << 20));
        assert_eq!(byte_size(" 2 GiB "), Ok(2 << 30));
        assert!(byte_size("64 KB")
            .unwrap_err()
            .contains("did you mean `KiB`"));
        assert!(byte_size("KiB").is_err());
        assert!(byte_size("1.5 MiB").is_err());
        assert!(byte_size("16777216 TiB")
            .unwrap_err()
            .contains("does not fit"));
    }

    #[test]
    fn errors() {
        assert!(err("nmae = \"x\"").contains("did you mean `name`"));
        assert!(err("max_alloc = 1").contains("did you mean `max_allocs`"));
        assert!(err("frobnicate").starts_with("unknown option `frobnicate`; the options are"));
        assert!(err("name = \"a\", name = \"b\"").contains("duplicate option `name`"));
        assert!(err("max_allocs = -1").contains("cannot be negative"));
        assert!(err("max_allocs = 18446744073709551616").contains("does not fit in a u64"));
        assert!(err("max_allocs = 1i32").contains("suffix `i32`"));
        assert!(err("max_allocs = 1.5").contains("non-negative integer literal"));
        assert!(err("max_allocs = LIMIT").contains("constants and expressions"));
        assert!(err("max_allocs").contains("expected `=`"));
        assert!(err("max_allocs =").contains("missing value"));
        assert!(err("enforce = 1").contains("`true` or `false`"));
        assert!(err("name = x").contains("string literal"));
        assert!(err("name = \"\"").contains("must not be empty"));
        assert!(err("skip = true").contains("takes no value"));
        assert!(err("skip, max_allocs = 1").contains("cannot be combined"));
        assert!(err("max_allocs = 1 enforce = true").contains("expected `,`"));
        assert!(err("\"x\"").contains("expected an option name"));
    }

    #[test]
    fn merge_prefers_the_function() {
        let block = parse("max_allocs = 1, enforce = false").unwrap();
        let own = parse("max_allocs = 2, max_bytes = 3").unwrap();
        let m = block.merged(&own);
        assert_eq!(m.max_allocs.unwrap().value, 2);
        assert_eq!(m.max_bytes.unwrap().value, 3);
        assert!(!m.enforce.unwrap().value);
    }
}
