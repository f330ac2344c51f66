"""Issue #19: never stale. Every edit cargo itself would notice changes the asset hash AND the
deployed bytes; an edit only one binary reads changes that binary alone.

One generated workspace, binaries ``a`` and ``b`` (std only: quick to build). ``a`` reads, beyond
its package directory, every class of input the issue names; ``b`` reads none of them. After
each edit the test synthesizes, runs the staged x86_64 bootstrap and checks what it prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Tuple

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import RustFunction
from constructs_rust._build import request, run
from constructs_rust.testing import bootstrap_path

from .test_hash_precision import Calls
from .test_hash_precision import calls as calls  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.build]

PROFILE = "[profile.release]\nlto = false\ncodegen-units = 16\nstrip = true\n"

A_MAIN = """\
#[path = "../../shared/pathmod.rs"]
mod pathmod;
#[path = "linked/inner.rs"]
mod linked;

fn main() {
    println!("include={}", include_str!("../../shared/text.txt").trim());
    println!("pathmod={}", pathmod::VALUE);
    println!("build={}", env!("A_FROM_BUILD"));
    println!("buildenv={}", env!("A_FROM_BUILD_ENV"));
    println!("feature={}", common::mode());
    println!("linked={}", linked::VALUE);
    println!("cfg={}", cfg!(crt_flag));
    println!("configenv={}", option_env!("CRT_CONFIG_ENV").unwrap_or("none"));
    println!("shellenv={}", option_env!("CRT_SHELL_VAR").unwrap_or("none"));
}
"""
A_BUILD = """\
fn main() {
    println!("cargo:rustc-check-cfg=cfg(crt_flag)");
    println!("cargo:rerun-if-changed=../shared/build_input.txt");
    println!("cargo:rerun-if-env-changed=CRT_BUILD_VAR");
    let text = std::fs::read_to_string("../shared/build_input.txt").unwrap();
    println!("cargo:rustc-env=A_FROM_BUILD={}", text.trim());
    let var = std::env::var("CRT_BUILD_VAR").unwrap_or_else(|_| "unset".into());
    println!("cargo:rustc-env=A_FROM_BUILD_ENV={}", var);
}
"""


def make_workspace(root: Path) -> Path:
    (root / "shared").mkdir(parents=True)
    (root / "linked_src").mkdir()
    (root / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\nmembers = ["a", "b", "common"]\n\n'
        "[workspace.dependencies]\n"
        'common = { path = "common", features = ["loud"] }\n\n' + PROFILE
    )
    (root / "common" / "src").mkdir(parents=True)
    (root / "common" / "Cargo.toml").write_text(
        '[package]\nname = "common"\nversion = "0.1.0"\nedition = "2021"\n\n[features]\nloud = []\n'
    )
    (root / "common" / "src" / "lib.rs").write_text(
        'pub fn mode() -> &\'static str { if cfg!(feature = "loud") { "loud" } else { "quiet" } }\n'
    )
    (root / "a" / "src").mkdir(parents=True)
    (root / "a" / "Cargo.toml").write_text(
        '[package]\nname = "a"\nversion = "0.1.0"\nedition = "2021"\n\n'
        "[dependencies]\ncommon = { workspace = true }\n"
    )
    (root / "a" / "build.rs").write_text(A_BUILD)
    (root / "a" / "src" / "main.rs").write_text(A_MAIN)
    os.symlink("../../linked_src", root / "a" / "src" / "linked")
    (root / "b" / "src").mkdir(parents=True)
    (root / "b" / "Cargo.toml").write_text(
        '[package]\nname = "b"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (root / "b" / "src" / "main.rs").write_text('fn main() { println!("b"); }\n')
    (root / "shared" / "text.txt").write_text("one\n")
    (root / "shared" / "pathmod.rs").write_text("pub const VALUE: u32 = 1;\n")
    (root / "shared" / "build_input.txt").write_text("first\n")
    (root / "linked_src" / "inner.rs").write_text("pub const VALUE: u32 = 10;\n")
    return root


def synth(ws: Path, outdir: Path) -> Tuple[Dict[str, str], Dict[str, str]]:
    """(asset hash, what the staged bootstrap prints) per binary."""
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "S")
    fns = {
        b: RustFunction(
            stack, b, manifest_path=str(ws), binary_name=b, architecture=lambda_.Architecture.X86_64
        )
        for b in "ab"
    }
    app.synth()
    hashes = {b: fn.node.find_child("Code").asset_hash for b, fn in fns.items()}
    printed = {}
    for b, fn in fns.items():
        proc = subprocess.run(
            [str(bootstrap_path(fn))], capture_output=True, text=True, check=True, env={}
        )
        printed[b] = proc.stdout
    return hashes, printed


def _value(printed: str, key: str) -> str:
    return dict(line.split("=", 1) for line in printed.splitlines())[key]


#: Config files apply to every binary of the workspace (b's bytes change with rustflags too).
WORKSPACE_WIDE = {"cfg", "configenv"}
EDITS: List[Tuple[str, str, str]] = [
    # (class, key printed by a, new value)
    ("include_str! of a file outside the package", "include", "two"),
    ("#[path] module outside the package", "pathmod", "2"),
    ("rerun-if-changed file outside the package", "build", "second"),
    ("rerun-if-env-changed variable", "buildenv", "set-by-shell"),
    ("path-dependency features in [workspace.dependencies]", "feature", "quiet"),
    ("a source reached through a symlinked directory", "linked", "20"),
    ("[build] rustflags in the workspace's .cargo/config.toml", "cfg", "true"),
    ("[env] in a cargo config file above the workspace root", "configenv", "from-parent"),
    ("option_env! of a variable the synthesizing shell sets", "shellenv", "hello"),
]


def _apply(ws: Path, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if key == "include":
        (ws / "shared" / "text.txt").write_text("two\n")
    elif key == "pathmod":
        (ws / "shared" / "pathmod.rs").write_text("pub const VALUE: u32 = 2;\n")
    elif key == "build":
        (ws / "shared" / "build_input.txt").write_text("second\n")
    elif key == "buildenv":
        monkeypatch.setenv("CRT_BUILD_VAR", "set-by-shell")
    elif key == "feature":
        manifest = ws / "Cargo.toml"
        manifest.write_text(manifest.read_text().replace(', features = ["loud"]', ""))
    elif key == "linked":
        (ws / "linked_src" / "inner.rs").write_text("pub const VALUE: u32 = 20;\n")
    elif key == "cfg":
        (ws / ".cargo").mkdir(exist_ok=True)
        (ws / ".cargo" / "config.toml").write_text('[build]\nrustflags = ["--cfg", "crt_flag"]\n')
    elif key == "configenv":
        (ws.parent / ".cargo").mkdir(exist_ok=True)
        (ws.parent / ".cargo" / "config.toml").write_text('[env]\nCRT_CONFIG_ENV = "from-parent"\n')
    elif key == "shellenv":
        monkeypatch.setenv("CRT_SHELL_VAR", "hello")


def test_every_input_cargo_reads_changes_the_hash_and_the_deployed_bytes(
    tmp_path,
    calls,
    monkeypatch,
    capfd,  # noqa: F811
):
    monkeypatch.delenv("CRT_BUILD_VAR", raising=False)
    monkeypatch.delenv("CRT_SHELL_VAR", raising=False)
    ws = make_workspace(tmp_path / "mono" / "ws")
    hashes, printed = synth(ws, tmp_path / "out0")
    assert _value(printed["a"], "include") == "one" and printed["b"] == "b\n"
    first_builds = Calls.builds(calls.take())
    assert first_builds, "a new machine builds"

    again, _ = synth(ws, tmp_path / "out0b")
    assert again == hashes, "an unchanged re-synth changes no hash (cold, then warm)"
    assert calls.take() == [], "and runs no cargo"

    table = []
    for n, (what, key, new) in enumerate(EDITS, start=1):
        _apply(ws, key, monkeypatch)
        after, now = synth(ws, tmp_path / f"out{n}")
        table.append((what, after["a"] != hashes["a"], _value(now["a"], key) == new))
        assert after["a"] != hashes["a"], f"{what}: a's hash must change"
        assert _value(now["a"], key) == new, f"{what}: the deployed bytes must change: {now['a']}"
        builds = Calls.builds(calls.take())
        assert len(builds) == 1 and "--bin a" in builds[0], (what, builds)
        if key not in WORKSPACE_WIDE:
            assert after["b"] == hashes["b"], f"{what}: b reads none of it, its hash stays"
            assert "--bin b" not in builds[0]
        same, _ = synth(ws, tmp_path / f"out{n}b")
        assert same == after, f"{what}: the re-synth after it changes nothing"
        assert calls.take() == [], f"{what}: and runs no cargo"
        hashes = after
    print(json.dumps(table))


def test_a_vanished_input_does_not_crash_the_synth(tmp_path, calls, capfd):  # noqa: F811
    """A file the last build's dep-info lists, since deleted (and no longer included): the synth
    hashes it as absent, rebuilds, and says which input changed."""
    ws = make_workspace(tmp_path / "ws")
    before, _ = synth(ws, tmp_path / "o1")
    calls.take()
    capfd.readouterr()
    main = ws / "a" / "src" / "main.rs"
    main.write_text(main.read_text().replace('include_str!("../../shared/text.txt")', '"gone"'))
    (ws / "shared" / "text.txt").unlink()
    after, printed = synth(ws, tmp_path / "o2")
    assert _value(printed["a"], "include") == "gone" and after["a"] != before["a"]
    err = capfd.readouterr().err
    assert "removed shared/text.txt (read by the build)" in err, err
    again, _ = synth(ws, tmp_path / "o3")
    assert again == after, "no churn: the absent file stays in this source state's record"


def test_config_rustflags_are_kept_with_the_librarys_own(tmp_path, calls):  # noqa: F811
    """User rustflags from [target.<triple>] reach rustc together with the remaps: the binary
    equals what a plain `cargo lambda build` gives with the same flags."""
    ws = make_workspace(tmp_path / "ws")
    (ws / ".cargo").mkdir()
    (ws / ".cargo" / "config.toml").write_text(
        '[target.x86_64-unknown-linux-gnu]\nrustflags = ["--cfg", "crt_flag"]\n'
        '[target.\'cfg(target_os = "linux")\']\nrustflags = ["--cfg", "crt_other"]\n'
    )
    _, printed = synth(ws, tmp_path / "o")
    assert _value(printed["a"], "cfg") == "true"


def test_verify_catches_a_planted_stale_artifact(tmp_path, calls, monkeypatch):  # noqa: F811
    ws = make_workspace(tmp_path / "ws")
    synth(ws, tmp_path / "o1")
    store = ws / "target" / "constructs-rust" / "artifacts"
    by_output = {
        subprocess.run([str(d / "bootstrap")], capture_output=True, text=True).stdout[:1]: d
        for d in store.iterdir()
    }
    # Plant: b's cached artifact gets a's bytes (what a cache that missed an input serves).
    (by_output["b"] / "bootstrap").write_bytes((by_output["i"] / "bootstrap").read_bytes())
    monkeypatch.setenv(run.ENV_VERIFY, "1")
    with pytest.raises(Exception) as caught:
        synth(ws, tmp_path / "o2")
    message = str(caught.value)
    assert "S/b" in message and "differs from a clean build" in message
    assert "S/a" not in message.split("differs")[0].split("\n")[-1]
    monkeypatch.delenv(run.ENV_VERIFY)
    _, fixed = synth(ws, tmp_path / "o3")
    assert fixed["b"] == "b\n", "the clean build replaced the stale entry"


def test_a_new_outside_input_joins_the_hash_and_is_never_served_stale(
    tmp_path,
    calls,  # noqa: F811
    capfd,
):
    """A source edit that starts reading a new file outside the package: the synth uses the
    previous record (batched, no plan-time build), the build reports the new input, the bytes
    are fresh; the next synth's hash includes it (one hash change, no cargo: the same bytes are
    stored under the complete inputs); an edit of the new file then changes hash and bytes."""
    ws = make_workspace(tmp_path / "ws")
    first, _ = synth(ws, tmp_path / "o1")
    calls.take()
    (ws / "shared" / "new.txt").write_text("fresh\n")
    main = ws / "a" / "src" / "main.rs"
    main.write_text(
        main.read_text().replace(
            "fn main() {\n",
            'fn main() {\n    println!("new={}", include_str!("../../shared/new.txt").trim());\n',
        )
    )
    capfd.readouterr()
    second, printed = synth(ws, tmp_path / "o2")
    assert second["a"] != first["a"] and _value(printed["a"], "new") == "fresh"
    assert "did not cover yet (shared/new.txt)" in capfd.readouterr().err
    assert len(Calls.builds(calls.take())) == 1
    third, printed = synth(ws, tmp_path / "o3")
    assert third["a"] != second["a"], "the new input joins the hash (once)"
    assert calls.take() == [], "same bytes, stored under the complete inputs: no cargo"
    assert third["b"] == first["b"]
    (ws / "shared" / "new.txt").write_text("edited\n")
    fourth, printed = synth(ws, tmp_path / "o4")
    assert fourth["a"] != third["a"] and _value(printed["a"], "new") == "edited"
    assert synth(ws, tmp_path / "o5")[0] == fourth


def test_skip_validation_never_stages_an_asset_without_its_binary(tmp_path, calls):  # noqa: F811
    """app.synth(skip_validation=True) skips construct validations; the build still runs (an
    aspect), so the staged asset holds the new binary, not the placeholder."""
    ws = make_workspace(tmp_path / "ws")
    synth(ws, tmp_path / "o1")
    main = ws / "b" / "src" / "main.rs"
    main.write_text('fn main() { println!("b2"); }\n')
    app = cdk.App(outdir=str(tmp_path / "o2"))
    fn = RustFunction(
        cdk.Stack(app, "S"),
        "b",
        manifest_path=str(ws),
        binary_name="b",
        architecture=lambda_.Architecture.X86_64,
    )
    app.synth(skip_validation=True)
    staged = bootstrap_path(fn)
    assert not (staged.parent / request.PLACEHOLDER).exists()
    out = subprocess.run([str(staged)], capture_output=True, text=True, check=True, env={})
    assert out.stdout == "b2\n"


def test_an_input_edited_while_cargo_runs_is_built_again(tmp_path, calls, capfd):  # noqa: F811
    """ccache's race: a file rustc read is edited after cargo started. The binary may hold the
    old content while the hash takes the new one, so the library builds again."""
    import threading

    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "Cargo.toml").write_text(
        '[package]\nname = "racy"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n' + PROFILE
    )
    marker = tmp_path / "started"
    (ws / "build.rs").write_text(
        "fn main() {\n"
        '    println!("cargo:rerun-if-changed=build.rs");\n'
        f'    std::fs::write("{marker}", "1").unwrap();\n'
        "    std::thread::sleep(std::time::Duration::from_secs(3));\n"
        "}\n"
    )
    (tmp_path / "text.txt").write_text("before\n")
    (ws / "src" / "main.rs").write_text(
        'fn main() { println!("{}", include_str!("../../text.txt").trim()); }\n'
    )

    def edit_when_cargo_runs() -> None:
        for _ in range(600):
            if marker.exists():
                time.sleep(0.5)
                (tmp_path / "text.txt").write_text("after\n")
                return
            time.sleep(0.1)

    editor = threading.Thread(target=edit_when_cargo_runs)
    editor.start()
    app = cdk.App(outdir=str(tmp_path / "o1"))
    fn = RustFunction(
        cdk.Stack(app, "S"), "R", manifest_path=str(ws), architecture=lambda_.Architecture.X86_64
    )
    app.synth()
    editor.join()
    out = subprocess.run([str(bootstrap_path(fn))], capture_output=True, text=True, env={})
    assert out.stdout == "after\n"
    assert "changed while cargo ran" in capfd.readouterr().err
    first = fn.node.find_child("Code").asset_hash
    app = cdk.App(outdir=str(tmp_path / "o2"))
    again = RustFunction(
        cdk.Stack(app, "S"), "R", manifest_path=str(ws), architecture=lambda_.Architecture.X86_64
    )
    app.synth()
    assert again.node.find_child("Code").asset_hash == first, "the hash names the new content"
