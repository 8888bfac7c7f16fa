//! The module import graph of each crate in the workspace, and the cycles in it.
//!
//! [`workspace_crates`] finds the members in the workspace's `Cargo.toml` and the crates
//! under each member's `src/`: the library (`lib.rs`), the binary (`main.rs`) and each
//! `src/bin/` program, each with its modules, one per file. [`Graph::of`] turns each
//! module's [`references`] into edges to the modules they land in, and [`Graph::cycles`]
//! returns one cycle of each strongly connected group of modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::parse::references;

/// A module: its segments after `crate` (empty for the crate root).
pub type Module = Vec<String>;

/// One crate's source files, by module.
#[derive(Debug, Default)]
pub struct CrateSource {
    /// The crate's name for messages: `member` or `member/bin/name`.
    pub name: String,
    /// Each module's file, and the file's text.
    pub files: BTreeMap<Module, (PathBuf, String)>,
}

/// An import from one module to another: where it is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// The module imported.
    pub to: Module,
    /// The importing file.
    pub file: PathBuf,
    /// The line of the import.
    pub line: usize,
}

/// The workspace members listed in `members = [...]` of the root `Cargo.toml` text.
pub fn members(manifest: &str) -> Vec<String> {
    let start = manifest
        .find("members")
        .expect("the workspace lists its members");
    let list = &manifest[start..];
    let list = &list[list.find('[').expect("members = [")..list.find(']').expect("]")];
    let found: Vec<String> = list
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    assert!(
        found.iter().all(|m| !m.contains('*')),
        "globs in members are not read: {found:?}"
    );
    found
}

/// The crates of every member of the workspace at `root`.
pub fn workspace_crates(root: &Path) -> Vec<CrateSource> {
    let manifest =
        std::fs::read_to_string(root.join("Cargo.toml")).expect("the workspace manifest");
    let mut crates = Vec::new();
    for member in members(&manifest) {
        let src = root.join(&member).join("src");
        let mut files = Vec::new();
        collect_rs(&src, &mut files);
        let has_lib = src.join("lib.rs").exists();
        let mut by_crate: BTreeMap<String, CrateSource> = BTreeMap::new();
        for file in files {
            let relative: Vec<String> = file
                .strip_prefix(&src)
                .expect("under src")
                .with_extension("")
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            let (name, mut module) = match relative.as_slice() {
                [root] if root == "lib" => (member.clone(), Vec::new()),
                [root] if root == "main" && has_lib => (format!("{member}/main"), Vec::new()),
                [bin, program, rest @ ..] if bin == "bin" => {
                    let program = program.clone();
                    (format!("{member}/bin/{program}"), rest.to_vec())
                }
                [bin, program] if bin == "bin" => (format!("{member}/bin/{program}"), Vec::new()),
                _ if has_lib => (member.clone(), relative.clone()),
                _ => (format!("{member}/main"), relative.clone()),
            };
            if module
                .last()
                .is_some_and(|last| last == "mod" || last == "main")
            {
                module.pop();
            }
            let text = std::fs::read_to_string(&file).expect("a readable source file");
            let source = by_crate.entry(name.clone()).or_default();
            source.name = name;
            source.files.insert(module, (file, text));
        }
        crates.extend(by_crate.into_values());
    }
    crates
}

fn collect_rs(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_rs(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Which modules import which.
#[derive(Debug, Default)]
pub struct Graph {
    /// For each module, its imports of other modules (never of itself or the root).
    pub edges: BTreeMap<Module, BTreeSet<Edge>>,
}

impl Graph {
    /// The graph of `source`: each reference lands in the longest module that is a prefix
    /// of its path. A module naming its own submodules (`pub use self::child::Item`) is
    /// not an edge: it declares and re-exports them, as the crate root does, and a
    /// reference to the crate root is none either. A file is read up to its first
    /// `#[cfg(test)]`: tests may use any module, and are not part of the reading order.
    pub fn of(source: &CrateSource) -> Graph {
        let mut graph = Graph::default();
        for (module, (file, text)) in &source.files {
            let imports = graph.edges.entry(module.clone()).or_default();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for reference in references(code, module) {
                let to = (1..=reference.path.len())
                    .rev()
                    .map(|len| reference.path[..len].to_vec())
                    .find(|prefix| source.files.contains_key(prefix));
                if let Some(to) = to.filter(|to| !to.starts_with(module)) {
                    imports.insert(Edge {
                        to,
                        file: file.clone(),
                        line: reference.line,
                    });
                }
            }
        }
        graph
    }

    /// One cycle through each group of modules that import each other (directly or
    /// not), as the edges that close it: the shortest through the group's first module.
    pub fn cycles(&self) -> Vec<Vec<(Module, Edge)>> {
        let reach: BTreeMap<&Module, BTreeSet<Module>> = self
            .edges
            .keys()
            .map(|module| (module, self.reachable(module)))
            .collect();
        let mut cycles = Vec::new();
        let mut seen: BTreeSet<&Module> = BTreeSet::new();
        for (start, reached) in &reach {
            if seen.contains(start) || !reached.contains(*start) {
                continue;
            }
            // The group: the modules `start` reaches that reach it back.
            seen.extend(
                reached
                    .iter()
                    .filter_map(|other| reach.get_key_value(other))
                    .filter(|(_, back)| back.contains(*start))
                    .map(|(other, _)| *other),
            );
            cycles.extend(self.shortest_cycle_through(start));
        }
        cycles
    }

    /// The modules reachable from `start` by one import or more.
    fn reachable(&self, start: &Module) -> BTreeSet<Module> {
        let mut reached = BTreeSet::new();
        let mut stack = vec![start.clone()];
        while let Some(module) = stack.pop() {
            for edge in self.edges.get(&module).into_iter().flatten() {
                if reached.insert(edge.to.clone()) {
                    stack.push(edge.to.clone());
                }
            }
        }
        reached
    }

    /// The shortest path from `start` back to itself, breadth first, as edges.
    fn shortest_cycle_through(&self, start: &Module) -> Option<Vec<(Module, Edge)>> {
        let mut came_from: BTreeMap<Module, (Module, Edge)> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.clone()]);
        while let Some(module) = queue.pop_front() {
            for edge in self.edges.get(&module).into_iter().flatten() {
                if &edge.to == start {
                    let mut cycle = vec![(module.clone(), edge.clone())];
                    let mut at = module.clone();
                    while &at != start {
                        let (from, step) = came_from[&at].clone();
                        cycle.push((from.clone(), step));
                        at = from;
                    }
                    cycle.reverse();
                    return Some(cycle);
                }
                if !came_from.contains_key(&edge.to) {
                    came_from.insert(edge.to.clone(), (module.clone(), edge.clone()));
                    queue.push_back(edge.to.clone());
                }
            }
        }
        None
    }
}

/// `module` as a reader writes it: `crate::a::b`, or `crate` for the root.
pub fn shown(module: &Module) -> String {
    std::iter::once("crate".to_owned())
        .chain(module.iter().cloned())
        .collect::<Vec<_>>()
        .join("::")
}
