"""Issue #28: the stale classes the first never-stale round left. Each edit below is one cargo
itself rebuilds on; after it, the asset hash AND the bytes the staged bootstrap prints change,
and a second synth of the same edit runs no cargo.

- a directory a build script watches (``cargo:rerun-if-changed=../migrations``, what sqlx's
  generated build script and prost/tonic proto dirs do): a file ADDED to it, one REMOVED;
- a file rustc reads (``include_str!``) under an editor folder the package tree skips
  (``.vscode/``);
- ``option_env!`` inside a proc-macro crate (compiled for the host) and inside a build script's
  own source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Tuple

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import RustFunction

from .test_hash_precision import Calls
from .test_hash_precision import calls as calls  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.build]

A_BUILD = """\
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-changed=build.rs");
    let mut names: Vec<String> = std::fs::read_dir("../migrations")
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    println!("cargo:rustc-env=A_MIGRATIONS={}", names.join(","));
    println!("cargo:rustc-env=A_BUILD_SRC={}", option_env!("CRT_BUILD_SRC_VAR").unwrap_or("none"));
}
"""
A_MAIN = """\
fn main() {
    println!("migrations={}", env!("A_MIGRATIONS"));
    println!("buildsrc={}", env!("A_BUILD_SRC"));
    println!("vscode={}", include_str!("../.vscode/snippet.txt").trim());
    println!("macro={}", pm::pm_value!());
}
"""
PM_LIB = """\
use proc_macro::TokenStream;
#[proc_macro]
pub fn pm_value(_input: TokenStream) -> TokenStream {
    format!("{:?}", option_env!("CRT_PM_VAR").unwrap_or("none")).parse().unwrap()
}
"""


def make_workspace(root: Path) -> Path:
    for d in ("a/src", "a/.vscode", "pm/src", "migrations"):
        (root / d).mkdir(parents=True)
    (root / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\nmembers = ["a", "pm"]\n\n'
        "[profile.release]\nlto = false\ncodegen-units = 16\nstrip = true\n"
    )
    (root / "a" / "Cargo.toml").write_text(
        '[package]\nname = "a"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\npm = { path = "../pm" }\n'
    )
    (root / "a" / "build.rs").write_text(A_BUILD)
    (root / "a" / "src" / "main.rs").write_text(A_MAIN)
    (root / "a" / ".vscode" / "snippet.txt").write_text("one\n")
    (root / "pm" / "Cargo.toml").write_text(
        '[package]\nname = "pm"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\nproc-macro = true\n'
    )
    (root / "pm" / "src" / "lib.rs").write_text(PM_LIB)
    (root / "migrations" / "001_init.sql").write_text("create table t (id int);\n")
    return root


def synth(ws: Path, outdir: Path) -> Tuple[str, Dict[str, str]]:
    """(asset hash, what the staged bootstrap prints)."""
    import subprocess

    from constructs_rust.testing import bootstrap_path

    app = cdk.App(outdir=str(outdir))
    fn = RustFunction(
        cdk.Stack(app, "S"), "a", manifest_path=str(ws), architecture=lambda_.Architecture.X86_64
    )
    app.synth()
    out = subprocess.run(
        [str(bootstrap_path(fn))], capture_output=True, text=True, check=True, env={}
    ).stdout
    return fn.node.find_child("Code").asset_hash, dict(
        line.split("=", 1) for line in out.splitlines()
    )


EDITS = [
    # (class, key the bootstrap prints, edit, the value it prints after)
    ("a file ADDED to a watched directory", "migrations", "add", "001_init.sql,002_users.sql"),
    ("a file REMOVED from a watched directory", "migrations", "remove", "002_users.sql"),
    ("include_str! under .vscode/ (a folder the tree skips)", "vscode", "vscode", "two"),
    ("option_env! in a proc-macro crate", "macro", "pm_env", "from-shell"),
    ("option_env! in a build script's own source", "buildsrc", "build_env", "from-shell-too"),
]


def _apply(ws: Path, edit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if edit == "add":
        (ws / "migrations" / "002_users.sql").write_text("create table u (id int);\n")
    elif edit == "remove":
        (ws / "migrations" / "001_init.sql").unlink()
    elif edit == "vscode":
        (ws / "a" / ".vscode" / "snippet.txt").write_text("two\n")
    elif edit == "pm_env":
        monkeypatch.setenv("CRT_PM_VAR", "from-shell")
    elif edit == "build_env":
        monkeypatch.setenv("CRT_BUILD_SRC_VAR", "from-shell-too")


def test_watched_dirs_skipped_folders_and_host_env_deps_reach_the_binary(
    tmp_path,
    calls: Calls,  # noqa: F811
    monkeypatch,
):
    for name in ("CRT_PM_VAR", "CRT_BUILD_SRC_VAR"):
        monkeypatch.delenv(name, raising=False)
    ws = make_workspace(tmp_path / "ws")
    before, printed = synth(ws, tmp_path / "out0")
    assert printed == {
        "migrations": "001_init.sql",
        "buildsrc": "none",
        "vscode": "one",
        "macro": "none",
    }
    for i, (what, key, edit, value) in enumerate(EDITS, start=1):
        _apply(ws, edit, monkeypatch)
        calls.take()
        after, printed = synth(ws, tmp_path / f"out{i}")
        assert printed[key] == value, f"{what}: the deployed binary is stale"
        assert after != before, f"{what}: the binary changed but its asset hash did not"
        assert calls.builds(calls.take()), f"{what}: no cargo run"
        again, _ = synth(ws, tmp_path / f"again{i}")
        assert again == after, f"{what}: a re-synth of the same edit changed the hash"
        assert not calls.builds(calls.take()), f"{what}: a re-synth of the same edit ran cargo"
        before = after


def test_a_damaged_cached_artifact_is_rebuilt_never_staged(
    tmp_path,
    calls: Calls,  # noqa: F811
    monkeypatch,
    capfd,
):
    """Issue #28 item 4: bytes flipped in the local store (same size, same name) are caught by
    the digest stored with the artifact: a warning, a rebuild, the right binary staged."""
    for name in ("CRT_PM_VAR", "CRT_BUILD_SRC_VAR"):
        monkeypatch.delenv(name, raising=False)
    ws = make_workspace(tmp_path / "ws")
    first, printed = synth(ws, tmp_path / "o1")
    store = ws / "target" / "constructs-rust" / "artifacts"
    (stored,) = [d / "bootstrap" for d in store.iterdir() if (d / "bootstrap").is_file()]
    good = stored.read_bytes()
    middle = len(good) // 2
    stored.write_bytes(
        good[:middle] + bytes(b ^ 0xFF for b in good[middle : middle + 64]) + good[middle + 64 :]
    )
    assert stored.stat().st_size == len(good)
    calls.take()
    capfd.readouterr()
    again, printed_again = synth(ws, tmp_path / "o2")
    err = capfd.readouterr().err
    assert "does not match the digest stored with it" in err and "S/a" in err, err
    assert calls.builds(calls.take()), "the damaged artifact was staged instead of rebuilt"
    assert printed_again == printed and again == first
    assert stored.read_bytes() == good, "the store holds the rebuilt binary again"
    third, _ = synth(ws, tmp_path / "o3")
    assert third == first and not calls.builds(calls.take())
    assert "digest" not in capfd.readouterr().err, "an intact artifact is served silently"
