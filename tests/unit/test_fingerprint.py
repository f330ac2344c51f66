"""Asset hashes come from the inputs: stable across checkout paths, precise about changes."""

from constructs_rust._cargo import depgraph
from constructs_rust._cargo import metadata as cargo
from constructs_rust._cargo.targets import Target
from constructs_rust._fingerprint import inputs
from constructs_rust._support import session
from constructs_rust.options import BundlingOptions


def _fp(root, manifest_rel, binary, options=None, toolchain="tc"):
    options = options or BundlingOptions()
    session.default().reset()
    manifest = cargo.normalize_manifest_path(str(root / manifest_rel))
    ws = cargo.load_workspace(manifest)
    package, name = cargo.resolve_binary(ws, manifest, binary)
    graph = depgraph.dependency_graph(ws, package, triple="x86_64-unknown-linux-gnu")
    return inputs.static_inputs(
        workspace=ws,
        package=package,
        binary=name,
        graph=graph,
        options=options,
        target=Target(lambda_arch="x86_64"),
        use_docker=False,
        toolchain=toolchain,
        extension=False,
    ).fingerprint


def test_same_sources_at_two_paths_give_the_same_hash(copy_fixture, tmp_path):
    one = copy_fixture("workspace", "one")
    two = copy_fixture("workspace", "elsewhere with spaces/ünï")
    assert _fp(one, "", "fx_api") == _fp(two, "", "fx_api")


def test_touching_a_member_changes_only_its_dependents(copy_fixture):
    ws = copy_fixture("workspace")
    before = {b: _fp(ws, "", b) for b in ("fx_api", "fx_worker")}
    main = ws / "members" / "api" / "src" / "main.rs"
    main.write_text(main.read_text() + "\n// touched\n")
    after = {b: _fp(ws, "", b) for b in ("fx_api", "fx_worker")}
    assert after["fx_api"] != before["fx_api"]
    assert after["fx_worker"] == before["fx_worker"]
    shared = ws / "members" / "shared" / "src" / "lib.rs"
    shared.write_text(shared.read_text() + "\n// touched\n")
    again = {b: _fp(ws, "", b) for b in ("fx_api", "fx_worker")}
    assert again["fx_api"] != after["fx_api"] and again["fx_worker"] != after["fx_worker"]


def test_outputs_and_settings(copy_fixture):
    crate = copy_fixture("single")
    base = _fp(crate, "", None)
    (crate / "target" / "release").mkdir(parents=True)
    (crate / "target" / "release" / "junk").write_text("build output")
    (crate / "cdk.out").mkdir()
    (crate / "cdk.out" / "x").write_text("synth output")
    assert _fp(crate, "", None) == base, "target/ and cdk.out never count"
    assert _fp(crate, "", None, options=BundlingOptions(profile="dev")) != base
    assert _fp(crate, "", None, toolchain="rustc 9.9") != base
    (crate / "Cargo.lock").write_text((crate / "Cargo.lock").read_text() + "\n")
    assert _fp(crate, "", None) == base, "Cargo.lock counts by the graph's entries, not its bytes"
    (crate / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "stable"\n')
    assert _fp(crate, "", None) != base


def test_cargo_config_counts_by_output_changing_tables(copy_fixture):
    crate = copy_fixture("single")
    base = _fp(crate, "", None)
    (crate / ".cargo").mkdir()
    config = crate / ".cargo" / "config.toml"
    config.write_text('[net]\ngit-fetch-with-cli = true\n[alias]\nb = "build"\n')
    assert _fp(crate, "", None) == base, "[net] and [alias] cannot change a binary"
    config.write_text('[env]\nGREETING = "hi"\n')
    with_env = _fp(crate, "", None)
    assert with_env != base
    parent = crate.parent / ".cargo"
    parent.mkdir(exist_ok=True)
    (parent / "config.toml").write_text('[build]\nrustflags = ["-C", "opt-level=2"]\n')
    assert _fp(crate, "", None) != with_env, "a monorepo root's config counts too"


def test_a_symlinked_directory_is_followed(copy_fixture, tmp_path):
    crate = copy_fixture("single")
    outside = tmp_path / "shared_src"
    outside.mkdir()
    (outside / "x.rs").write_text("pub const X: u8 = 1;\n")
    (crate / "src" / "linked").symlink_to(outside)
    base = _fp(crate, "", None)
    (outside / "x.rs").write_text("pub const X: u8 = 2;\n")
    assert _fp(crate, "", None) != base


def test_a_target_dir_inside_the_package_is_never_an_input(copy_fixture, monkeypatch):
    crate = copy_fixture("single")
    monkeypatch.setenv("CARGO_TARGET_DIR", str(crate / "build-output"))
    base = _fp(crate, "", None)
    (crate / "build-output" / "release").mkdir(parents=True)
    (crate / "build-output" / "release" / "junk").write_text("build output")
    for folder in (".venv", "node_modules", ".pytest_cache", ".idea", ".vscode"):
        (crate / folder).mkdir()
        (crate / folder / "x").write_text("tool state")
    assert _fp(crate, "", None) == base
