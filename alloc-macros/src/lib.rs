//! The `#[track_allocs]` attribute of [alloc-probe]. Use it through `alloc_probe::track_allocs`;
//! this crate is an implementation detail, pinned to alloc-probe's exact version.
//!
//! - `args.rs`: the options, parsed with errors on the offending tokens.
//! - `expand.rs`: the walk over the annotated item and all generated code.
//! - `scan.rs`: the list of expressions in a body that may allocate.
//!
//! [alloc-probe]: https://docs.rs/alloc-probe
#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod args;
mod expand;
mod scan;

/// Tracks the heap allocations of every call of a function.
///
/// Each call becomes a *tracked call*: alloc-probe attributes to the function every allocation
/// made on the calling thread until it returns (callees included), checks the call against
/// its budget, and lists the expressions in the body that may allocate, by line and column,
/// in its reports.
///
/// ```
/// use alloc_probe::track_allocs;
///
/// struct Parser;
/// # struct Record(Vec<String>);
///
/// impl Parser {
///     #[track_allocs(max_allocs = 4)]
///     fn parse_line(&self, line: &str) -> Result<Record, String> {
///         if line.is_empty() {
///             return Err("empty line".to_string());
///         }
///         let fields = line.split(',').map(str::to_owned).collect();
///         Ok(Record(fields))
///     }
/// }
/// # fn main() {}
/// ```
///
/// The attribute only instruments when alloc-probe's `instrument` feature is on. Without it
/// the item is left exactly as written (the options are still checked), so the attribute can
/// stay in code built without the profiler.
///
/// # Where it goes
///
/// - **Functions**: free functions and methods, with any receiver (`self`, `&mut self`,
///   `self: Box<Self>`, ...), generic or not, `unsafe`, `extern "C"`, returning
///   `impl Trait`, recursive, nested in other functions (tracked or not), in trait `impl`s.
///   `return`, `?` and panics end the tracked call as they end the function.
/// - **`async fn`**: the signature stays the same; the tracked call is entered on each poll
///   of the future and left in between, so it is never held across an `.await`. A sync
///   function whose body ends in `Box::pin(async move { .. })` (what `#[async_trait]`
///   produces) or in an `async move { .. }` block has that future tracked the same way.
/// - **`impl` blocks, traits and inline modules**: every function inside is tracked, with the
///   block's options and its own name; modules are walked recursively, through the `impl`
///   blocks, traits (default method bodies) and modules they contain. A `#[track_allocs(..)]`
///   on a function or nested block inside overrides the block's options for it, and
///   `#[track_allocs(skip)]` leaves it out. `const fn`s are left out silently.
///
/// ```
/// # use alloc_probe::track_allocs;
/// # struct Index;
/// #[track_allocs(max_bytes = "1 MiB")]
/// impl Index {
///     fn build(words: &[&str]) -> Self {
///         # let _ = words;
///         Index
///     }
///
///     #[track_allocs(max_allocs = 0)] // this one must not allocate at all
///     fn lookup(&self, word: &str) -> Option<usize> {
///         # let _ = word;
///         None
///     }
///
///     #[track_allocs(skip)] // too hot to track
///     fn len(&self) -> usize {
///         0
///     }
///
///     const fn empty() -> Self { // left alone: const fns cannot be tracked
///         Index
///     }
/// }
/// # fn main() {}
/// ```
///
/// Not supported: `const fn` (it may run at compile time; a `compile_error!` says so), trait
/// methods without a default body, and items other than functions, `impl` blocks, traits and
/// inline modules. Functions produced by macros inside a tracked block are not seen.
///
/// # Options
///
/// `#[track_allocs(option, ...)]`; each option at most once.
///
/// ## `name = "..."`
///
/// The name of the function in reports, instead of its identifier. Only on a function, not on
/// a block, whose functions each keep their own name. The report also shows the function's
/// full path (`crate::module::Type::method`), so same-named methods stay apart either way.
///
/// ```
/// # use alloc_probe::track_allocs;
/// #[track_allocs(name = "csv::parse")]
/// fn parse(input: &str) -> Vec<Vec<String>> {
///     input.lines().map(|l| l.split(',').map(String::from).collect()).collect()
/// }
/// # fn main() {}
/// ```
///
/// ## `max_allocs = N`
///
/// A budget per call: at most `N` allocation events (allocations and reallocations, callees
/// included). An integer literal; `_` separators and unsigned suffixes are fine.
///
/// ## `max_bytes = N` or `max_bytes = "64 KiB"`
///
/// A budget per call on the bytes allocated (callees included): an integer literal, or a
/// string holding a whole number and one of the units `B`, `KiB`, `MiB`, `GiB`, `TiB`
/// (powers of 1024).
///
/// ```
/// # use alloc_probe::track_allocs;
/// #[track_allocs(max_allocs = 1, max_bytes = 4_096)]
/// fn small_buffer() -> Vec<u8> {
///     Vec::with_capacity(4096)
/// }
/// # fn main() {}
/// ```
///
/// ## `enforce = true|false`
///
/// Whether a call over budget panics. By default it does in builds with debug assertions
/// (tests, debug builds) and only reports in release builds.
///
/// ```
/// # use alloc_probe::track_allocs;
/// #[track_allocs(max_allocs = 10, enforce = false)] // report, never panic
/// fn tolerant() {}
/// # fn main() {}
/// ```
///
/// ## `skip`
///
/// Leaves one function (or nested block) of a tracked block untracked. Takes no value and no
/// other option.
///
/// # Errors
///
/// Unknown or repeated options, values of the wrong kind, negative or too large numbers,
/// unknown byte units, `name` on a block, `skip` with other options, `const fn` and unsupported
/// items are compile errors pointing at the offending tokens, with or without the `instrument`
/// feature. The item itself is kept as written beside the error, so rustc goes on reporting
/// the errors in it, at the same places as without the attribute.
///
/// # What the expansion looks like
///
/// A `static` describing the function (name, path, file, line, the possibly-allocating
/// expressions, the budget) is added at the top of the body. A sync body then runs after
/// `let __alloc_probe_guard = ::alloc_probe::__private::enter(..)`, whose guard ends the
/// tracked call when dropped, at return or during unwinding; an `async fn` body becomes
/// `::alloc_probe::__private::instrument(.., async move { body }).await`. Every path is
/// absolute and every added name starts with `__alloc_probe` / `__ALLOC_PROBE`, so user items
/// cannot shadow them. The crate using the attribute must depend on `alloc-probe` under that
/// name.
#[proc_macro_attribute]
pub fn track_allocs(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::track_allocs(args.into(), item.into(), cfg!(feature = "enabled")).into()
}
