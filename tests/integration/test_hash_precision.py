"""Issue #10: asset hashes change only when the binary can.

Generated workspaces with real crates from crates.io (itoa, ryu, memchr: small and quick to
build), real cargo and cargo-lambda; cargo invocations are counted with PATH shims.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import RustFunction
from constructs_rust._build import commands, rustflags
from constructs_rust._cargo import metadata as cargo
from constructs_rust._cargo.targets import Target
from constructs_rust.testing import bootstrap_path

from ..conftest import FIXTURES

pytestmark = [pytest.mark.build]

# No LTO and parallel codegen: these workspaces are built many times per run (release builds
# of the example lambdas use thin LTO; see lambdas/Cargo.toml).
PROFILE = (
    '[profile.release]\nopt-level = 3\nlto = false\ncodegen-units = 16\npanic = "abort"\n'
    "strip = true\n"
)
MAIN = """\
fn main() {{
    let x: f64 = std::env::args().count() as f64 * 1.1;
    println!("{name} {{}}", {body});
}}
"""
MEMBERS = {
    # a uses itoa (only a does), ryu and the shared lib; b uses ryu and the shared lib.
    "a": (
        'common = { path = "../common" }\nitoa = "1"\nryu = "1"\n',
        'format!("{} {} {}", common::greet(), itoa::Buffer::new().format(7u8), '
        "ryu::Buffer::new().format(x))",
    ),
    "b": (
        'common = { path = "../common" }\nryu = "1"\n',
        'format!("{} {}", common::greet(), ryu::Buffer::new().format(x))',
    ),
    "c": ("", "x"),
}


def make_workspace(root: Path, members: Dict[str, Tuple[str, str]] = MEMBERS) -> Path:
    """A virtual workspace of binaries a, b, c plus a shared lib crate; no Cargo.lock."""
    root.mkdir(parents=True)
    names = ["common", *members]
    (root / "Cargo.toml").write_text(
        f'[workspace]\nresolver = "2"\nmembers = {names!r}\n\n'.replace("'", '"') + PROFILE
    )
    (root / "common" / "src").mkdir(parents=True)
    (root / "common" / "Cargo.toml").write_text(
        '[package]\nname = "common"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (root / "common" / "src" / "lib.rs").write_text('pub fn greet() -> &\'static str { "hi" }\n')
    for name, (deps, body) in members.items():
        (root / name / "src").mkdir(parents=True)
        (root / name / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n'
            f"[dependencies]\n{deps}"
        )
        (root / name / "src" / "main.rs").write_text(MAIN.format(name=name, body=body))
    return root


class Calls:
    """cargo / cargo-lambda wrappers on PATH that log each top-level call."""

    def __init__(self, shim_dir: Path) -> None:
        self.log = shim_dir / "calls.log"
        shim_dir.mkdir(parents=True, exist_ok=True)
        for name in ("cargo", "cargo-lambda"):
            real = shutil.which(name)
            assert real, f"{name} must be installed for these tests"
            script = (
                "#!/bin/sh\n"
                f'[ -z "$SHIM_DEPTH" ] && printf "%s %s\\n" {name} "$*" '
                f">> {shlex.quote(str(self.log))}\n"
                "SHIM_DEPTH=1 exec " + shlex.quote(real) + ' "$@"\n'
            )
            (shim_dir / name).write_text(script)
            (shim_dir / name).chmod(0o755)

    def take(self) -> List[str]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.write_text("")
        return lines

    @staticmethod
    def builds(lines: Sequence[str]) -> List[str]:
        return [
            line
            for line in lines
            if line.startswith("cargo lambda build") or line.startswith("cargo-lambda lambda build")
        ]


@pytest.fixture
def calls(tmp_path, monkeypatch) -> Calls:
    if not shutil.which("cargo-lambda"):
        venv_bin = Path(os.sys.executable).parent
        monkeypatch.setenv("PATH", f"{venv_bin}{os.pathsep}{os.environ['PATH']}")
    shims = Calls(tmp_path / "shims")
    monkeypatch.setenv("PATH", f"{tmp_path / 'shims'}{os.pathsep}{os.environ['PATH']}")
    return shims


def bins(run: str) -> Set[str]:
    """The ``--bin`` names of one logged cargo-lambda call."""
    words = run.split()
    return {words[i + 1] for i, word in enumerate(words[:-1]) if word == "--bin"}


def synth(
    ws: Path, binaries: Sequence[str], outdir: Path, *, build_it: bool = True
) -> Tuple[Dict[str, str], Dict[str, bytes]]:
    """One `cdk synth` of an app with a RustFunction per binary: (hashes, bootstrap bytes)."""
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "S")
    fns = {
        b: RustFunction(
            stack,
            b,
            manifest_path=str(ws),
            binary_name=b,
            architecture=lambda_.Architecture.X86_64,
        )
        for b in binaries
    }
    hashes = {b: fn.node.find_child("Code").asset_hash for b, fn in fns.items()}
    if not build_it:
        return hashes, {}
    app.synth()
    return hashes, {b: bootstrap_path(fn).read_bytes() for b, fn in fns.items()}


def changed(before: Dict[str, str], after: Dict[str, str]) -> List[str]:
    return sorted(b for b in before if before[b] != after[b])


def test_no_lock_no_churn_and_a_new_dependency_changes_one_hash(tmp_path, calls, capfd):
    ws = make_workspace(tmp_path / "ws")
    assert not (ws / "Cargo.lock").exists()
    h1, _ = synth(ws, "abc", tmp_path / "out1")
    assert (ws / "Cargo.lock").is_file()
    assert "cargo created" in capfd.readouterr().err, "one stderr line says cargo wrote the lock"
    runs = Calls.builds(calls.take())
    assert [bins(run) for run in runs] == [{"a"}, {"b", "c"}], (
        "a new machine: the first function builds alone, the second with the workspace's rest,"
        f" the third finds its record: {runs}"
    )

    h2, _ = synth(ws, "abc", tmp_path / "out2")
    assert h2 == h1, "the lock cargo wrote is not a change"
    assert calls.take() == [], "warm synth: no cargo at all"

    manifest = ws / "b" / "Cargo.toml"
    manifest.write_text(manifest.read_text() + 'memchr = "2"\n')
    h3, _ = synth(ws, "abc", tmp_path / "out3")
    assert changed(h2, h3) == ["b"], "a new dependency of b changes b's hash only"
    lines = calls.take()
    assert len(Calls.builds(lines)) == 1 and "--bin b" in Calls.builds(lines)[0]
    err = capfd.readouterr().err
    assert "cargo updated" in err and "S/b: asset hash changed" in err and "+ dep memchr" in err

    h4, _ = synth(ws, "abc", tmp_path / "out4")
    assert h4 == h3 and calls.take() == [], "and the synth after that runs no cargo"


def test_only_the_binaries_that_use_a_change_get_new_hashes(tmp_path, calls, capfd):
    ws = make_workspace(tmp_path / "ws")
    h0, _ = synth(ws, "abc", tmp_path / "o", build_it=False)

    subprocess.run(
        ["cargo", "update", "-p", "itoa", "--precise", "1.0.15"],
        cwd=ws,
        check=True,
        capture_output=True,
    )
    h1, _ = synth(ws, "abc", tmp_path / "o", build_it=False)
    assert changed(h0, h1) == ["a"], "cargo update -p itoa: only a uses itoa"
    err = capfd.readouterr().err
    assert "S/a: asset hash changed" in err and "+ dep itoa 1.0.15" in err
    assert "S/b: asset hash changed" not in err

    lib = ws / "common" / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "// touched\n")
    h2, _ = synth(ws, "abc", tmp_path / "o", build_it=False)
    assert changed(h1, h2) == ["a", "b"], "the shared lib changes its dependents only"
    err = capfd.readouterr().err
    assert "S/a: asset hash changed" in err and "constructs_rust:   edited common/src/lib.rs" in err
    assert "tree common=" not in err, "the file is named, not the tree's digest"

    manifest = ws / "b" / "Cargo.toml"
    manifest.write_text(
        manifest.read_text().replace('ryu = "1"', 'ryu = { version = "1", features = ["small"] }')
    )
    h3, _ = synth(ws, "abc", tmp_path / "o", build_it=False)
    # Features are unified over the workspace (as `cargo lambda build` at the root does): b's
    # feature of ryu reaches a's binary too, so a's hash says so; c has no ryu.
    assert changed(h2, h3) == ["a", "b"]
    assert "+ dep ryu 1.0.23 crates.io features=[small]" in capfd.readouterr().err
    calls.take()
    h4, _ = synth(ws, "abc", tmp_path / "o", build_it=False)
    assert h4 == h3 and calls.take() == [], "cached graphs: no cargo tree when nothing changed"


def test_one_cargo_run_per_workspace_and_bytes_never_depend_on_the_app(tmp_path, calls):
    """b enables ryu's `small` feature, a uses ryu with defaults. The workspace is built in ONE
    cargo run with features unified over every member, as `cargo lambda build` at the root
    does: a's bytes and hash are the same whether the app holds a alone (`cdk synth -e
    StackA`) or a and b, and equal a plain `cargo lambda build` at the root."""
    members = dict(MEMBERS)
    deps, body = members["b"]
    members["b"] = (
        deps.replace('ryu = "1"', 'ryu = { version = "1", features = ["small"] }'),
        body,
    )
    alone = make_workspace(tmp_path / "alone", members)
    together = make_workspace(tmp_path / "together", members)

    h_alone, b_alone = synth(alone, "a", tmp_path / "o1")
    runs = Calls.builds(calls.take())
    assert len(runs) == 1 and "--workspace" in runs[0], runs
    assert bins(runs[0]) == {"a"}, f"an app of one binary builds that binary only: {runs}"
    h_together, b_together = synth(together, "ab", tmp_path / "o2")
    runs = Calls.builds(calls.take())
    assert [bins(run) for run in runs] == [{"a"}, {"b", "c"}], (
        f"a alone, then b with the rest (c); got {runs}"
    )
    assert all("--workspace" in run for run in runs), "features unified over every member"
    assert h_together["a"] == h_alone["a"]
    assert b_together["a"] == b_alone["a"], "a's bootstrap does not depend on the app"

    # Fidelity: a user's own `cargo lambda build` at the root, with the library's flags.
    ws = cargo.load_workspace(together / "Cargo.toml")
    target = Target(lambda_arch="x86_64")
    flags = commands.encoded_rustflags(
        remaps=rustflags.local_remaps(ws), target_cpu=target.target_cpu, user_flags=[]
    )
    env = dict(os.environ, CARGO_ENCODED_RUSTFLAGS=flags)

    def plain(*args: str) -> bytes:
        out = tmp_path / f"plain{len(args)}"
        argv = ["cargo", "lambda", "build", "--release", "--target", target.triple]
        subprocess.run([*argv, *args, "--lambda-dir", str(out)], cwd=together, env=env, check=True)
        return (out / "a" / "bootstrap").read_bytes()

    assert plain() == b_together["a"], "the same bytes as a plain build at the workspace root"
    # Control: a package-scoped build resolves ryu without `small`: other bytes. This is what
    # the unified resolve (and its hash) accounts for.
    assert plain("--package", "a") != b_together["a"]


def test_a_host_profile_variable_is_a_new_hash_not_a_stale_cache_hit(tmp_path, calls, monkeypatch):
    """CARGO_PROFILE_RELEASE_OPT_LEVEL in the host environment changes what cargo builds; with
    it out of the fingerprint the second synth would have served the first binary from the
    artifact cache under the same hash."""
    monkeypatch.delenv("CARGO_PROFILE_RELEASE_OPT_LEVEL", raising=False)
    ws = make_workspace(tmp_path / "ws", {"c": MEMBERS["c"]})
    h1, b1 = synth(ws, "c", tmp_path / "o1")
    calls.take()
    monkeypatch.setenv("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")  # overrides the manifest's 3
    h2, b2 = synth(ws, "c", tmp_path / "o2")
    assert len(Calls.builds(calls.take())) == 1, "rebuilt"
    assert h2["c"] != h1["c"] and b2["c"] != b1["c"]
    monkeypatch.delenv("CARGO_PROFILE_RELEASE_OPT_LEVEL")
    h3, b3 = synth(ws, "c", tmp_path / "o3")
    assert (h3, b3) == (h1, b1) and Calls.builds(calls.take()) == [], "back to the cached one"


def test_offline_resolve_writes_the_lock_from_downloaded_crates(tmp_path, monkeypatch, capfd):
    ws = make_workspace(tmp_path / "ws")
    subprocess.run(["cargo", "fetch"], cwd=ws, check=True, capture_output=True)
    (ws / "Cargo.lock").unlink()
    # No network: every registry connection is refused at once.
    for var in ("CARGO_HTTP_PROXY", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("CARGO_NET_RETRY", "0")
    hashes, _ = synth(ws, "abc", tmp_path / "o", build_it=False)
    assert (ws / "Cargo.lock").is_file() and len(set(hashes.values())) == 3
    assert "offline" in capfd.readouterr().err


def test_unresolvable_lock_names_the_manifest(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    (ws / "Cargo.lock").write_text("version = 4\n[[package]]\nname = 'a'\n")
    app = cdk.App(outdir=str(tmp_path / "o"))
    stack = cdk.Stack(app, "S")
    with pytest.raises(Exception) as err:
        RustFunction(stack, "Fn", manifest_path=str(ws), binary_name="a")
    text = str(err.value)
    assert "[S/Fn]" in text and str(ws / "Cargo.toml") in text and "Fix:" in text
    assert "lock" in text.lower()


def test_path_dependency_outside_the_workspace_is_remapped(tmp_path):
    """The aws-lambda-rust-runtime examples' layout: a standalone package depending on
    `../../support`, which embeds its own source path with file!().

    - Two checkouts at different paths: identical asset hashes, and no host path in either
      binary (the outside root is remapped to /workspace/../../support).
    - The same example at two paths sharing ONE outside dependency: byte-identical binaries.
    - What remains between two full checkouts (named here, explained in docs/bundling.md): cargo
      derives each crate's `-C metadata` hash from the path of a path package, relative to the
      workspace root when the package is inside it, ABSOLUTE when outside. That hash changes
      symbol hashes and so code layout, though no path string is left in the binary.
    """
    checkouts: List[Tuple[Dict[str, str], Dict[str, bytes]]] = []
    for where in ("first", "second/place"):
        base = tmp_path / where
        shutil.copytree(FIXTURES / "outside_dep", base, ignore=shutil.ignore_patterns("target"))
        checkouts.append(
            synth(base / "examples" / "basic", ["basic"], tmp_path / f"o{len(checkouts)}")
        )
    (h1, b1), (h2, b2) = checkouts
    assert h1 == h2, "asset hashes differ between checkout paths"
    for binary in (b1["basic"], b2["basic"]):
        assert str(tmp_path).encode() not in binary, "a host path is left in the binary"
        assert b"/workspace/../../support/src/lib.rs" in binary, "the remapped path is there"

    moved = tmp_path / "first" / "elsewhere" / "basic"
    shutil.copytree(
        tmp_path / "first" / "examples" / "basic",
        moved,
        ignore=shutil.ignore_patterns("target", "Cargo.lock"),
    )
    h3, b3 = synth(moved, ["basic"], tmp_path / "o3")
    assert h3 == h1
    assert b3["basic"] == b1["basic"], "same outside dependency: the workspace path leaves no trace"
