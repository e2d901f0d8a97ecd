// Errors in a tracked function's own code point at that code, as without the attribute.
use alloc_probe::track_allocs;

#[track_allocs]
fn sync_mismatch() -> u32 {
    let n: u32 = "not a number";
    n
}

#[track_allocs]
fn sync_unknown() -> Vec<u8> {
    undefined_helper()
}

#[track_allocs]
async fn async_wrong_return() -> u32 {
    String::from("not a number")
}

#[derive(Debug)]
struct MyError;

#[track_allocs]
async fn async_question_mark() -> Result<u32, MyError> {
    let n: u32 = "1".parse()?;
    Ok(n)
}

fn main() {}
