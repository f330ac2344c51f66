"""Binary resolution through `cargo metadata` on fixture crates of every layout."""

from pathlib import Path

import pytest

from constructs_rust._cargo import metadata as cargo
from constructs_rust._support import session
from constructs_rust.errors import CargoError, ConfigurationError

from ..conftest import FIXTURES


def _resolve(path: Path, binary=None):
    manifest = cargo.normalize_manifest_path(str(path))
    workspace = cargo.load_workspace(manifest)
    package, binary = cargo.resolve_binary(workspace, manifest, binary)
    return workspace, package, binary


@pytest.mark.parametrize(
    "fixture, binary_name, package, binary",
    [
        ("single", None, "fx_single", "fx_single"),
        ("sam_bootstrap", None, "fx_sam", "bootstrap"),
        ("multi_bin", "beta", "fx_multi", "beta"),
        ("src_bin", "first", "fx_srcbin", "first"),
        ("workspace", "fx_worker", "fx_worker", "fx_worker"),
        ("workspace/members/api", None, "fx_api", "fx_api"),
        ("root_package_workspace", "fx_sub", "fx_sub", "fx_sub"),
        ("root_package_workspace/sub", None, "fx_sub", "fx_sub"),
    ],
)
def test_every_layout_resolves(fixture, binary_name, package, binary):
    _, pkg, name = _resolve(FIXTURES / fixture, binary_name)
    assert (pkg.name, name) == (package, binary)


def test_workspace_member_sees_root_and_path_dependencies():
    workspace, package, _ = _resolve(FIXTURES / "workspace" / "members" / "api" / "Cargo.toml")
    assert workspace.root == (FIXTURES / "workspace").resolve()
    closure = workspace.dependency_closure(package)
    assert [p.name for p in closure] == ["api", "shared"]


def test_several_binaries_without_name_lists_them():
    with pytest.raises(ConfigurationError, match=r"several binaries .*alpha, beta") as err:
        _resolve(FIXTURES / "multi_bin")
    assert "binary_name='alpha'" in str(err.value)


def test_unknown_binary_lists_existing():
    with pytest.raises(
        ConfigurationError, match=r"binary_name='nope'.*the binaries are: fx_api, fx_worker"
    ):
        _resolve(FIXTURES / "workspace", "nope")


def test_library_only_crate():
    with pytest.raises(ConfigurationError, match="no binary target .*library-only"):
        _resolve(FIXTURES / "lib_only")


def test_missing_manifest_and_not_a_manifest(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        cargo.normalize_manifest_path(str(tmp_path / "nowhere"))
    other = tmp_path / "package.json"
    other.write_text("{}")
    with pytest.raises(ConfigurationError, match="is not a Cargo.toml"):
        cargo.normalize_manifest_path(str(other))
    with pytest.raises(ConfigurationError, match="holds no Cargo.toml"):
        cargo.normalize_manifest_path(str(tmp_path))


def test_malformed_manifest_surfaces_cargo_message():
    with pytest.raises(CargoError) as err:
        _resolve(FIXTURES / "malformed")
    assert "cargo metadata failed" in str(err.value)
    assert "unclosed table" in str(err.value)  # cargo's own words, not a Python traceback


def test_parse_metadata_keeps_members_bins_and_path_deps():
    data = {
        "workspace_root": "/w",
        "target_directory": "/w/target",
        "workspace_members": ["a 0.1.0 (path+file:///w/a)", "lib 0.1.0 (path+file:///w/lib)"],
        "packages": [
            {
                "name": "a",
                "id": "a 0.1.0 (path+file:///w/a)",
                "manifest_path": "/w/a/Cargo.toml",
                "targets": [{"name": "a", "kind": ["bin"]}, {"name": "a", "kind": ["lib"]}],
                "dependencies": [{"name": "lib", "path": "/w/lib"}, {"name": "serde"}],
            },
            {
                "name": "lib",
                "id": "lib 0.1.0 (path+file:///w/lib)",
                "manifest_path": "/w/lib/Cargo.toml",
                "targets": [{"name": "lib", "kind": ["lib"]}],
                "dependencies": [],
            },
        ],
    }
    ws = cargo.parse_metadata(data)
    a = ws.package_named("a")
    assert a.bins == ("a",)
    assert a.path_dependencies == (Path("/w/lib"),)
    assert ws.dependency_closure(a) == [Path("/w/a"), Path("/w/lib")]


def test_metadata_is_cached_until_a_manifest_changes(copy_fixture, monkeypatch):
    crate = copy_fixture("single")
    manifest = crate / "Cargo.toml"
    calls = []
    real = cargo.run_metadata
    monkeypatch.setattr(cargo, "run_metadata", lambda m, *f: calls.append(m) or real(m, *f))
    session.default().reset()
    cargo.load_workspace(manifest)
    session.default().reset()
    cargo.load_workspace(manifest)
    assert len(calls) == 1, "second load must come from the on-disk cache"
    (crate / "src" / "main.rs").write_text((crate / "src" / "main.rs").read_text() + "\n// edit\n")
    session.default().reset()
    cargo.load_workspace(manifest)
    assert len(calls) == 1, "editing a source file does not change metadata"
    (crate / "src" / "bin").mkdir()
    (crate / "src" / "bin" / "extra.rs").write_text("fn main() {}\n")
    session.default().reset()
    ws = cargo.load_workspace(manifest)
    assert len(calls) == 2, "a new src/bin file can add a binary: metadata is asked again"
    assert set(ws.packages[0].bins) == {"fx_single", "extra"}


def test_one_metadata_call_per_workspace_not_per_member(copy_fixture, monkeypatch):
    ws = copy_fixture("workspace")
    calls = []
    real = cargo.run_metadata
    monkeypatch.setattr(cargo, "run_metadata", lambda m, *f: calls.append(m) or real(m, *f))
    session.default().reset()
    for member in ("api", "worker"):
        cargo.load_workspace(cargo.normalize_manifest_path(str(ws / "members" / member)))
    cargo.load_workspace(cargo.normalize_manifest_path(str(ws)))
    assert len(calls) == 1, calls


def test_locked_in_cargo_lambda_flags_fails_on_an_out_of_date_lock(copy_fixture, tmp_path):
    """`--locked` governs the library's own `cargo metadata` too: the lock is not rewritten."""
    import aws_cdk as cdk

    from constructs_rust import BundlingOptions, RustFunction

    crate = copy_fixture("single")
    (crate / "helper" / "src").mkdir(parents=True)
    (crate / "helper" / "Cargo.toml").write_text(
        '[package]\nname = "helper"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (crate / "helper" / "src" / "lib.rs").write_text("")
    manifest = crate / "Cargo.toml"
    manifest.write_text(manifest.read_text() + '\n[dependencies]\nhelper = { path = "helper" }\n')
    lock_before = (crate / "Cargo.lock").read_bytes()
    session.default().reset()
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path / "o")), "S")
    with pytest.raises(Exception) as caught:
        RustFunction(
            stack,
            "Fn",
            manifest_path=str(crate),
            bundling=BundlingOptions(cargo_lambda_flags=["--locked"]),
        )
    assert "[S/Fn]" in str(caught.value) and "--locked" in str(caught.value)
    assert (crate / "Cargo.lock").read_bytes() == lock_before, "the lock was not rewritten"
