//! Every script in `scripts/` answers `--help` with its usage (exit 0) before installing or building anything, and a
//! script that reads its own arguments refuses an unknown one with its usage (exit 2), before doing any work. The
//! command scripts (`ops.sh`, `replay.sh`, `trading.sh`, `watchlist.sh`) hand the rest of their arguments to the
//! `ops` command, which refuses what it does not know (its tests: ops/tests/).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
    let mut all: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        // Sourced by the others, never run.
        .filter(|p| !matches!(p.file_name().and_then(|n| n.to_str()), Some("lib.sh" | "args.sh")))
        .collect();
    all.sort();
    all
}

fn run(script: &Path, arg: &str) -> Output {
    Command::new("timeout")
        .args(["10", "bash"])
        .arg(script)
        .arg(arg)
        .output()
        .unwrap()
}

fn name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap()
}

#[test]
fn every_script_answers_help_with_its_usage() {
    let all = scripts();
    assert!(all.len() >= 12, "{all:?}");
    for script in &all {
        let out = run(script, "--help");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{}: {text}", name(script));
        assert!(
            text.contains(&format!("./scripts/{}", name(script))),
            "{}: the usage names the script: {text}",
            name(script)
        );
    }
}

#[test]
fn a_script_refuses_an_argument_it_does_not_know_before_doing_anything() {
    const PASSED_ON: [&str; 4] = ["ops.sh", "replay.sh", "trading.sh", "watchlist.sh"];
    for script in scripts().iter().filter(|s| !PASSED_ON.contains(&name(s))) {
        let out = run(script, "--no-such-option");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", name(script));
        assert!(
            err.contains("--no-such-option") && err.contains(&format!("./scripts/{}", name(script))),
            "{}: says what was wrong and how to call it: {err}",
            name(script)
        );
    }
}

/// The README a newcomer reads first stays short (everything else is in docs/), and every path it names exists.
#[test]
fn the_readme_is_short_and_every_path_it_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.len() <= 12 * 1024, "README.md is {} bytes", readme.len());
    let mut named = Vec::new();
    for word in readme.split(|c: char| c.is_whitespace() || "`()[]'\",;".contains(c)) {
        let path = word.trim_start_matches("./").trim_end_matches(['.', ':']);
        let top = path.split('/').next().unwrap_or_default();
        let known = [
            "docs",
            "scripts",
            "data",
            "functions",
            "shared",
            "tests",
            "events",
            "template.yaml",
        ];
        if (known.contains(&top) && path.contains('/')) || path.ends_with(".md") {
            named.push(path.to_string());
        }
    }
    assert!(named.len() >= 10, "{named:?}");
    for path in &named {
        assert!(root.join(path).exists(), "README.md names {path}, which does not exist");
    }
}
