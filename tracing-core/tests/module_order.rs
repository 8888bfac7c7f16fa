//! The library reads top to bottom: `lib.rs` declares its modules in the order a request
//! meets them, and each module imports only modules declared above it, so the import
//! graph has no cycle and a reader never has to jump ahead.

use std::path::{Path, PathBuf};

/// The library's modules, in the order `lib.rs` declares them.
fn declared_modules(src: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs is readable");
    lib.lines()
        .filter_map(|line| {
            let line = line.trim();
            let name = line
                .strip_prefix("mod ")
                .or_else(|| line.strip_prefix("pub mod "))?;
            Some(name.trim_end_matches(';').to_owned())
        })
        .collect()
}

/// The source files of module `name`: `name.rs`, or `name/*.rs`.
fn files_of(src: &Path, name: &str) -> Vec<PathBuf> {
    let file = src.join(format!("{name}.rs"));
    let mut files = vec![];
    if file.exists() {
        files.push(file);
    }
    if let Ok(entries) = std::fs::read_dir(src.join(name)) {
        files.extend(entries.map(|entry| entry.expect("a directory entry").path()));
    }
    assert!(!files.is_empty(), "no source file for module {name}");
    files
}

/// The `crate::x` modules that `code` refers to, outside comments and `#[cfg(test)]`.
fn referenced_modules(code: &str) -> Vec<String> {
    let code = code.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = Vec::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (index, _) in line.match_indices("crate::") {
            let rest = &line[index + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found
}

#[test]
fn each_module_imports_only_modules_declared_before_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let order = declared_modules(&src);
    assert!(order.len() > 10, "modules found in lib.rs: {order:?}");
    let mut backward = Vec::new();
    for (position, module) in order.iter().enumerate() {
        for file in files_of(&src, module) {
            let code = std::fs::read_to_string(&file).expect("a readable source file");
            for used in referenced_modules(&code) {
                match order.iter().position(|m| *m == used) {
                    Some(at) if at > position => {
                        backward.push(format!("{} uses crate::{used}", file.display()));
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(
        backward.is_empty(),
        "modules must only import modules declared before them in lib.rs:\n{}",
        backward.join("\n")
    );
}
