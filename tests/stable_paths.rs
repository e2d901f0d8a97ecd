//! Source files in a report are the same from any working directory: the program's own
//! relative to its workspace, registry crates by name and version, the standard library by its
//! crate. One test in this binary, as it moves the working directory.

use std::hint::black_box;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[test]
fn files_do_not_depend_on_the_working_directory() {
    std::env::set_current_dir("/").unwrap();
    let b = black_box(Box::new([1u8; 40]));
    let line = line!() - 1;
    let json = serde_json::to_string(&black_box(vec![1u32, 2, 3])).unwrap();
    drop(b);
    let r = alloc_probe::report();

    let site = r
        .sites()
        .iter()
        .find(|s| s.line == line && s.file.ends_with("stable_paths.rs"))
        .expect("the box's site");
    assert_eq!(site.file, "tests/stable_paths.rs");

    let files: Vec<&str> = r.frames.iter().map(|f| f.file.as_str()).collect();
    let registry = files
        .iter()
        .find(|f| f.starts_with("serde_json-") && f.contains("/src/"))
        .unwrap_or_else(|| panic!("no serde_json frame in {files:#?}"));
    let version = registry["serde_json-".len()..].split('/').next().unwrap();
    assert!(
        version.split('.').all(|n| n.parse::<u32>().is_ok()),
        "{registry}"
    );
    assert!(
        files.iter().any(|f| f.starts_with("alloc/src/")),
        "no alloc/src frame in {files:#?}"
    );
    assert!(
        !files
            .iter()
            .any(|f| f.contains("/registry/") || f.starts_with("/rustc/")),
        "{files:#?}"
    );
    assert_eq!(json, "[1,2,3]");
}
