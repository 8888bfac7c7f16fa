//! No crate of the workspace has modules that import each other in a cycle: each reads top
//! to bottom, from the modules that need nothing to those that use them.
//!
//! The test reads every member's `src/**/*.rs` (members from the workspace `Cargo.toml`,
//! found from this crate's manifest directory; no file outside the repository), builds
//! each crate's module import graph from `use crate::...`, `use super::...`, grouped
//! imports and `crate::x::` paths in code (each file up to its first `#[cfg(test)]`: tests
//! may use any module), and fails naming each cycle with the file and
//! line of every import in it. Its own parser is tested below.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

#[path = "import_cycles/graph.rs"]
mod graph;
#[path = "import_cycles/parse.rs"]
mod parse;

use std::path::Path;

use graph::{CrateSource, Graph, members, shown, workspace_crates};
use parse::{Reference, references};

/// The workspace root: this crate's parent directory.
fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("itests lies in the workspace")
}

#[test]
fn no_crate_of_the_workspace_imports_its_modules_in_a_cycle() {
    let crates = workspace_crates(workspace_root());
    let names: Vec<&str> = crates.iter().map(|c| c.name.as_str()).collect();
    for expected in [
        "tracing-core",
        "demo",
        "demo/main",
        "itests",
        "bench/bin/load",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} not among the crates read: {names:?}"
        );
    }
    let mut report = Vec::new();
    for source in &crates {
        for cycle in Graph::of(source).cycles() {
            let mut lines = vec![format!(
                "{}: {} -> {}",
                source.name,
                cycle
                    .iter()
                    .map(|(from, _)| shown(from))
                    .collect::<Vec<_>>()
                    .join(" -> "),
                shown(&cycle[0].0)
            )];
            let root = workspace_root();
            for (from, edge) in &cycle {
                let file = edge.file.strip_prefix(root).unwrap_or(&edge.file);
                lines.push(format!(
                    "    {}:{}: {} imports {}",
                    file.display(),
                    edge.line,
                    shown(from),
                    shown(&edge.to)
                ));
            }
            report.push(lines.join("\n"));
        }
    }
    assert!(
        report.is_empty(),
        "modules that import each other in a cycle:\n{}",
        report.join("\n")
    );
}

fn module(path: &str) -> Vec<String> {
    path.split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn paths(found: &[Reference]) -> Vec<String> {
    found.iter().map(|r| r.path.join("::")).collect()
}

#[test]
fn a_grouped_import_gives_one_path_per_item() {
    let code = "use crate::{a::B, c::{D, self as e, f::*}};\nuse super::g::H as I;\n";
    let found = references(code, &module("x::y"));
    assert_eq!(paths(&found), ["a::B", "c::D", "c", "c::f", "x::g::H"]);
    assert!(found.iter().all(|r| r.line <= 2));
    assert_eq!(found[4].line, 2);
}

#[test]
fn paths_in_code_count_and_paths_in_comments_and_strings_do_not() {
    let code = r####"
        // crate::commented::A
        /* crate::blocked::B /* nested crate::deeper */ */
        const S: &str = "crate::quoted::C \" crate::escaped";
        const R: &str = r#"crate::raw::D "quoted" "#;
        const Q: char = '"';
        fn f<'a>(x: &'a str) -> usize { crate::real::count(x) + self::local::N }
        mod inner { use super::sibling::E; }
    "####;
    let found = references(code, &module("m"));
    assert_eq!(
        paths(&found),
        ["real::count", "m::local::N", "m::sibling::E"]
    );
    assert_eq!(found[0].line, 7);
}

#[test]
fn super_in_an_inline_module_is_its_file() {
    let code = "#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::up::X;\n}\nuse self::after::Y;\n";
    let found = references(code, &module("a::b"));
    assert_eq!(paths(&found), ["a::b", "a::up::X", "a::b::after::Y"]);
}

fn crate_of(files: &[(&str, &str)]) -> CrateSource {
    CrateSource {
        name: "example".to_owned(),
        files: files
            .iter()
            .map(|(name, text)| (module(name), (name.into(), (*text).to_owned())))
            .collect(),
    }
}

#[test]
fn a_cycle_through_a_grouped_import_is_found_and_a_chain_is_not() {
    let cyclic = crate_of(&[
        ("", "pub mod a; pub mod b; pub mod c; pub use a::A;"),
        ("a", "use crate::{b::B, c::C};"),
        ("b", "use crate::c::{C, D};"),
        ("c", "fn f() { crate::a::g(); }"),
    ]);
    let cycles = Graph::of(&cyclic).cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    let order: Vec<String> = cycles[0].iter().map(|(from, _)| shown(from)).collect();
    assert_eq!(
        order,
        ["crate::a", "crate::c"],
        "the shortest cycle: a -> c -> a"
    );

    let layered = crate_of(&[
        ("", "pub mod a; pub mod b; use crate::a::A;"),
        ("a", "use crate::{b::B, Root};"),
        ("b", "use crate::Root; // crate::a::A"),
    ]);
    assert!(Graph::of(&layered).cycles().is_empty());

    // A parent that re-exports its child's items, and the child using the parent's.
    let table_of_contents = crate_of(&[
        ("", "pub mod p;"),
        (
            "p",
            "mod child; pub use self::child::Item; pub trait Trait {}",
        ),
        (
            "p::child",
            "pub struct Item; impl crate::p::Trait for Item {}",
        ),
    ]);
    assert!(Graph::of(&table_of_contents).cycles().is_empty());
}

#[test]
fn the_members_are_read_from_the_workspace_manifest() {
    let manifest = "[workspace]\nresolver = \"3\"\nmembers = [\n  \"core\",\n  \"app\",\n]\n";
    assert_eq!(members(manifest), ["core", "app"]);
}
