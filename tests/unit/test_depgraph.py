"""Pure parts of the per-binary dependency graph, the remaps and the hash history."""

from __future__ import annotations

from pathlib import Path

from constructs_rust._build import failure, queue, request, rustflags
from constructs_rust._cargo import depgraph
from constructs_rust._cargo import metadata as cargo
from constructs_rust._cargo.targets import Target
from constructs_rust._fingerprint import history, inputs
from constructs_rust._fingerprint import lines as fingerprint_lines
from constructs_rust._support import session
from constructs_rust.options import BundlingOptions

WS = cargo.Workspace(
    root=Path("/src/ws"),
    target_dir=Path("/src/ws/target"),
    packages=(),
    path_packages=(
        Path("/src/lambda-runtime"),
        Path("/src/lambda-runtime/lambda-extension"),
        Path("/src/ws"),
        Path("/src/ws/a"),
    ),
)

TREE = """\
a v0.1.0 (/src/ws/a)|default,fast
common v0.1.0 (/src/ws/common)|
itoa v1.0.19|
ryu v1.0.23|small
serde_derive v1.0.228 (proc-macro)|default
serde v1.0.228|default,derive,std
serde v1.0.228|default,derive,std (*)
lambda_runtime v0.13.0 (/src/lambda-runtime/lambda-runtime)|default
gitdep v0.2.0 (https://github.com/o/r?rev=abc#abcdef12)|
"""


def test_parse_tree_nodes_sources_and_paths():
    graph = depgraph.parse_tree(TREE, WS)
    by_name = {n.name: n for n in graph.nodes}
    assert len(by_name) == 8, "the (*) repeat of serde is folded"
    assert by_name["ryu"].source == "crates.io" and by_name["ryu"].features == "small"
    assert by_name["serde_derive"].proc_macro and by_name["serde_derive"].source == "crates.io"
    assert by_name["a"].path == Path("/src/ws/a") and by_name["a"].source == "a"
    assert by_name["lambda_runtime"].source == "../lambda-runtime/lambda-runtime"
    assert (
        by_name["gitdep"].source.startswith("https://github.com/o/r") and not by_name["gitdep"].path
    )
    assert graph.path_dirs == [
        Path("/src/lambda-runtime/lambda-runtime"),
        Path("/src/ws/a"),
        Path("/src/ws/common"),
    ]


def test_node_lines_carry_features_and_checksums_never_host_paths():
    graph = depgraph.parse_tree(TREE, WS)
    lock = depgraph.Lock(entries={("ryu", "1.0.23"): ({"checksum": "c0ffee"},)})
    lines = fingerprint_lines.graph_lines(graph, lock, WS)
    assert "dep ryu 1.0.23 crates.io features=[small] checksum=c0ffee" in lines
    assert any(line.startswith("dep serde_derive 1.0.228 crates.io proc-macro") for line in lines)
    assert not any("/src" in line for line in lines), "no host paths: path packages by relative dir"
    assert any(line.startswith("path common common features=") for line in lines), (
        "a path package's features count (they may come from [workspace.dependencies])"
    )


def test_conflicts_only_when_a_shared_package_gets_other_features():
    a = depgraph.parse_tree("a v0.1.0 (/src/ws/a)|\nryu v1.0.23|\nitoa v1.0.19|\n", WS)
    b_same = depgraph.parse_tree("b v0.1.0 (/src/ws/b)|\nryu v1.0.23|\n", WS)
    b_small = depgraph.parse_tree("b v0.1.0 (/src/ws/b)|\nryu v1.0.23|small\n", WS)
    c_other = depgraph.parse_tree("c v0.1.0 (/src/ws/c)|\nmemchr v2.7.0|std\n", WS)
    assert not depgraph.conflicts(a, b_same)
    assert depgraph.conflicts(a, b_small) and depgraph.conflicts(b_small, a)
    assert not depgraph.conflicts(a, c_other)


def _req(package: str, binary: str, tree: str = "", **options) -> request.BuildRequest:
    pkg = cargo.Package(package, Path(f"/src/ws/{package}/Cargo.toml"), (binary,), ())
    return request.BuildRequest(
        construct_path=f"S/{binary}",
        workspace=WS,
        package=pkg,
        binary=binary,
        target=Target(lambda_arch=options.pop("arch", "arm64")),
        options=BundlingOptions(**options),
        use_docker=False,
        inputs=inputs.Inputs(static=(binary,)),
        slot=binary,
        asset_dir=Path("/out"),
        graph=depgraph.parse_tree(tree, WS),
    )


def test_batches_split_conflicting_packages_and_repeated_binaries():
    def req(package: str, binary: str, tree: str) -> request.BuildRequest:
        return _req(package, binary, tree, features=["f"])  # package-scoped: conflicts matter

    a = req("a", "a", "ryu v1.0.23|\n")
    b = req("b", "b", "ryu v1.0.23|small\n")
    c = req("c", "c", "ryu v1.0.23|\n")
    a_again = req("a2", "a", "itoa v1.0.19|\n")
    batches = queue.split_batches([a, b, c, a_again])
    assert [[r.construct_path for r in batch] for batch in batches] == [
        ["S/a", "S/c"],
        ["S/b", "S/a"],
    ]


def test_outside_roots_are_outermost_and_remapped_most_specific_last(monkeypatch):
    assert WS.outside_roots() == [Path("/src/lambda-runtime")]
    monkeypatch.setenv("CARGO_HOME", "/home/u/.cargo")
    pairs = rustflags.local_remaps(WS)
    assert pairs == sorted(pairs, key=lambda p: len(p[0]))
    assert ("/src/lambda-runtime", "/workspace/../lambda-runtime") in pairs
    assert ("/src/ws", "/workspace") in pairs and ("/home/u/.cargo", "/cargo") in pairs
    assert (str(WS.target_dir), "/constructs-rust/docker-target") in pairs, "generated sources"


def test_history_names_the_inputs_that_changed(tmp_path):
    target = tmp_path / "target"
    before = ["v2", "tree a=1", "dep itoa 1.0.19 crates.io features=[] checksum=x"]
    after = ["v2", "tree a=1", "dep itoa 1.0.15 crates.io features=[] checksum=y"]
    assert history.record(target, "S/A", "fp1", before) is None, "first synth: nothing to say"
    assert history.record(target, "S/A", "fp1", before) is None, "unchanged: nothing to say"
    lines = history.record(target, "S/A", "fp2", after)
    assert lines == [
        "- dep itoa 1.0.19 crates.io features=[] checksum=x",
        "+ dep itoa 1.0.15 crates.io features=[] checksum=y",
    ]
    text = history.render("S/A", lines)
    assert "S/A: asset hash changed" in text and "+ dep itoa 1.0.15" in text
    assert history.record(target, "S/A", "fp1", before) == [
        "- dep itoa 1.0.15 crates.io features=[] checksum=y",
        "+ dep itoa 1.0.19 crates.io features=[] checksum=x",
    ], "going back is explained too"


def test_a_checkout_at_another_path_reuses_the_cached_graphs(copy_fixture, tmp_path, monkeypatch):
    """A CI runner that restores the library cache into a checkout at a new path runs no
    `cargo tree`: the disk cache is keyed by the workspace manifest, not the path, and the
    cached graph's path packages are rebased onto the new checkout."""
    monkeypatch.setenv("CONSTRUCTS_RUST_CACHE_DIR", str(tmp_path / "library-cache"))
    graphs = []
    for checkout in ("first", "second"):
        session.default().reset()
        root = copy_fixture("workspace", checkout)
        workspace = cargo.load_workspace(root / "Cargo.toml")
        (package,) = [p for p in workspace.packages if p.name == "fx_api"]
        if checkout == "second":

            def no_cargo_tree(argv, **kwargs):
                raise AssertionError(f"ran {argv}")

            monkeypatch.setattr(depgraph, "run_cargo", no_cargo_tree)
        graph = depgraph.dependency_graph(workspace, package, triple="x86_64-unknown-linux-gnu")
        graphs.append(graph)
        paths = sorted(n.path for n in graph.nodes if n.path is not None)
        assert paths == [root / "members" / "api", root / "members" / "shared"]
    assert [n.source for n in graphs[0].nodes] == [n.source for n in graphs[1].nodes]


def test_one_line_says_why_a_workspace_took_several_cargo_runs():
    def req(binary: str, **options) -> request.BuildRequest:
        return _req(binary, binary, **options)

    assert "target" in failure.split_reason(req("a"), req("b", arch="x86_64"))
    assert "profile" in failure.split_reason(req("a"), req("b", profile="dev"))
    assert "one package" in failure.split_reason(req("a"), req("b", features=["x"]))
    assert "repeats" in failure.split_reason(req("a"), req("a"))
