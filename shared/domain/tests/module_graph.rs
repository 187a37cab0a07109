//! The domain's module graph (docs/DESIGN.md §16): which module's code names which other module, read from the
//! sources. Two checks: no cycle among the modules (every file a node, a subject's re-exports resolved to the file
//! that defines the name), and the subjects' graph in docs/DESIGN.md is the one the code has.
//!
//! What counts as a dependency is code outside `#[cfg(test)] mod tests` and outside comments: a `crate::…` or
//! `super::…` path, in a `use` or inline. A module declaring its children (`pub mod fill;`) or re-exporting them
//! does not depend on them; a name re-exported by a parent (`crate::order::Fill`) is a dependency on the child that
//! defines it (`order::fill`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// Every module of `src/` with its production code (tests and comments cut).
fn modules() -> BTreeMap<Module, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap().with_extension("");
            let mut module: Module = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            out.insert(module, production_code(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    out
}

/// The source before its `#[cfg(test)] mod tests`, each line cut at `//` (a comment; in a string literal, what follows
/// a `//` is a URL or text, never a path of the crate).
fn production_code(src: &str) -> String {
    let code = src.split("\n#[cfg(test)]\nmod tests").next().unwrap_or_default();
    code.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths of a use tree at the start of `s` (`a::b`, `a::{b, c::d}`), each as its segments.
fn use_tree(s: &str) -> (Vec<Vec<String>>, usize) {
    if let Some(rest) = s.strip_prefix('{') {
        let (paths, used) = group(rest, 0, &[]);
        return (paths, used + 1);
    }
    let mut prefix: Vec<String> = Vec::new();
    let mut i = 0;
    let bytes = s.as_bytes();
    loop {
        let start = i;
        while i < s.len() && is_ident(bytes[i] as char) {
            i += 1;
        }
        if i > start {
            prefix.push(s[start..i].to_string());
        }
        if s[i..].starts_with("::") {
            i += 2;
            while s[i..].starts_with(char::is_whitespace) {
                i += 1;
            }
            if s[i..].starts_with('{') {
                return group(s, i + 1, &prefix);
            }
            continue;
        }
        return (vec![prefix], i);
    }
}

fn group(s: &str, mut i: usize, prefix: &[String]) -> (Vec<Vec<String>>, usize) {
    let mut paths = Vec::new();
    loop {
        while s[i..].starts_with(|c: char| c.is_whitespace() || c == ',') {
            i += 1;
        }
        if s[i..].starts_with('}') {
            return (paths, i + 1);
        }
        let (inner, used) = use_tree(&s[i..]);
        for p in inner {
            paths.push(
                prefix
                    .iter()
                    .cloned()
                    .chain(p.into_iter().filter(|x| x != "self"))
                    .collect(),
            );
        }
        i += used.max(1);
        // `x as y`: the alias is not a path
        if let Some(rest) = s[i..].trim_start().strip_prefix("as ") {
            let skipped = s[i..].len() - rest.len();
            i += skipped
                + rest
                    .find(|c: char| !is_ident(c) && !c.is_whitespace())
                    .unwrap_or(rest.len());
        }
    }
}

/// Every `crate::` and `super::` path of `code`, as absolute segments.
fn paths(module: &Module, code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (anchor, base) in [
        ("crate::", Vec::new()),
        ("super::", module[..module.len().saturating_sub(1)].to_vec()),
    ] {
        let mut from = 0;
        while let Some(at) = code[from..].find(anchor) {
            let at = from + at;
            from = at + anchor.len();
            if at > 0 && (is_ident(code[..at].chars().last().unwrap()) || code[..at].ends_with("::")) {
                continue;
            }
            for p in use_tree(&code[from..]).0 {
                out.push(base.iter().cloned().chain(p).collect());
            }
        }
    }
    out
}

/// `name` → the child module it is re-exported from, per module (`pub use fill::{Fill, …}` in `order`).
fn reexports(mods: &BTreeMap<Module, String>) -> BTreeMap<(Module, String), Module> {
    let mut out = BTreeMap::new();
    for (module, code) in mods {
        for stmt in code.split("pub use ").skip(1) {
            let (found, _) = use_tree(stmt);
            for p in found {
                if let [child, .., name] = p.as_slice() {
                    let mut from = module.clone();
                    from.push(child.clone());
                    if mods.contains_key(&from) {
                        out.insert((module.clone(), name.clone()), from);
                    }
                }
            }
        }
    }
    out
}

/// The module a path names: its longest module prefix, through a re-export when the next segment is one.
fn resolve(
    path: &[String],
    mods: &BTreeMap<Module, String>,
    re: &BTreeMap<(Module, String), Module>,
) -> Option<Module> {
    let k = (1..=path.len()).rev().find(|k| mods.contains_key(&path[..*k]))?;
    let module = path[..k].to_vec();
    Some(match path.get(k) {
        Some(next) => re.get(&(module.clone(), next.clone())).cloned().unwrap_or(module),
        None => module,
    })
}

/// Module → the modules its code names.
fn graph(mods: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let re = reexports(mods);
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, code) in mods {
        let to = edges.entry(module.clone()).or_default();
        to.extend(
            paths(module, code)
                .iter()
                .filter_map(|p| resolve(p, mods, &re))
                .filter(|t| t != module),
        );
    }
    edges
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "lib".into()
    } else {
        m.join("::")
    }
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    struct T<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, (usize, usize)>,
        stack: Vec<&'a Module>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a Module) {
        let n = t.index.len();
        t.index.insert(v, (n, n));
        t.stack.push(v);
        for w in t.edges.get(v).into_iter().flatten() {
            let low = match t.index.get(w) {
                None => {
                    visit(t, w);
                    t.index[w].1
                }
                Some(&(i, _)) if t.stack.contains(&w) => i,
                Some(_) => continue,
            };
            let e = t.index.get_mut(v).unwrap();
            e.1 = e.1.min(low);
        }
        if t.index[v].0 == t.index[v].1 {
            let at = t.stack.iter().position(|m| *m == v).unwrap();
            let comp: Vec<String> = t.stack.split_off(at).into_iter().map(name).collect();
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// The graph cut to subjects (the crate's top-level modules), one line each: `subject → what it depends on`.
fn subjects_text(edges: &BTreeMap<Module, BTreeSet<Module>>) -> String {
    let mut by_subject: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in edges.iter().filter(|(m, _)| !m.is_empty()) {
        let deps = by_subject.entry(from[0].clone()).or_default();
        deps.extend(
            to.iter()
                .filter(|t| !t.is_empty() && t[0] != from[0])
                .map(|t| t[0].clone()),
        );
    }
    by_subject
        .iter()
        .map(|(s, deps)| {
            let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
            format!(
                "{s:<10} → {}\n",
                if deps.is_empty() {
                    "—".to_string()
                } else {
                    deps.join(", ")
                }
            )
        })
        .collect()
}

#[test]
fn no_module_of_the_domain_depends_on_itself_through_others() {
    let edges = graph(&modules());
    assert!(edges.len() > 30, "the scan found only {} modules", edges.len());
    let found = cycles(&edges);
    assert!(found.is_empty(), "import cycles among the domain's modules: {found:?}");
}

#[test]
fn the_design_shows_the_subjects_graph_the_code_has() {
    let design = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/DESIGN.md")).unwrap();
    let expected = subjects_text(&graph(&modules()));
    assert!(
        design.contains(&format!("```text\n{expected}```")),
        "docs/DESIGN.md §16 must show the subjects' graph as the code has it:\n```text\n{expected}```"
    );
}

/// The scan itself: a cycle planted in made-up modules is found, and a re-export resolves to its file.
#[test]
fn the_scan_finds_a_planted_cycle_and_resolves_reexports() {
    let m = |s: &str| -> Module { s.split("::").filter(|x| !x.is_empty()).map(String::from).collect() };
    let mods: BTreeMap<Module, String> = [
        (m("a"), "pub mod x;\npub use x::{Thing, Other};\n".to_string()),
        (m("a::x"), "use crate::b::{self, B};\n".to_string()),
        (m("b"), "fn f() -> crate::a::Thing { super::c::go() }\n".to_string()),
        (m("c"), "// crate::a is only a comment\n".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k, production_code(&v)))
    .collect();
    let re = reexports(&mods);
    assert_eq!(resolve(&m("a::Thing"), &mods, &re), Some(m("a::x")));
    assert_eq!(paths(&m("a::x"), &mods[&m("a::x")]), vec![m("b"), m("b::B")]);
    let edges = graph(&mods);
    assert_eq!(edges[&m("b")], [m("a::x"), m("c")].into_iter().collect());
    assert!(edges[&m("c")].is_empty(), "a comment is no dependency");
    assert_eq!(cycles(&edges), vec![vec!["a::x".to_string(), "b".to_string()]]);
}
