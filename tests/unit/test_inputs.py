"""The inputs room's pure parts: dep-info parsing, cargo config precedence, cfg evaluation,
records from untrusted sources."""

from pathlib import Path

from constructs_rust._cargo import cargo_config
from constructs_rust._cargo import metadata as cargo
from constructs_rust._cargo.cargo_config import ConfigFile, cfg_matches, effective_rustflags
from constructs_rust._fingerprint import discover, record, tree

LINUX_X86 = frozenset(
    {("target_os", "linux"), ("target_arch", "x86_64"), ("unix", None), ("target_env", "gnu")}
)


def test_dep_info_lists_files_with_escaped_spaces_and_env_deps():
    text = (
        "/t/release/deps/a-1.d: a/src/main.rs a/src/../../shared/my\\ file.txt\n\n"
        "a/src/main.rs:\n\n# env-dep:GREETING=hi\n# env-dep:UNSET_ONE\n"
    )
    files, env = discover.parse_dep_info(text)
    assert files == ["a/src/main.rs", "a/src/../../shared/my file.txt"]
    assert env == ["GREETING", "UNSET_ONE"]


def test_cfg_expressions():
    assert cfg_matches('cfg(target_os = "linux")', LINUX_X86)
    assert cfg_matches('cfg(all(unix, target_arch = "x86_64"))', LINUX_X86)
    assert not cfg_matches('cfg(any(windows, target_arch = "aarch64"))', LINUX_X86)
    assert cfg_matches("cfg(not(windows))", LINUX_X86)
    assert not cfg_matches("cfg(all(unix, ", LINUX_X86), "malformed matches nothing"


def _file(label, data):
    return ConfigFile(Path("/x") / label, label, data)


def test_rustflags_follow_cargos_precedence():
    home = _file("$CARGO_HOME/config.toml", {"build": {"rustflags": ["--cfg", "home"]}})
    root = _file(".cargo/config.toml", {"build": {"rustflags": "--cfg root"}})
    triple = "x86_64-unknown-linux-gnu"
    flags = effective_rustflags([home, root], triple=triple, environ={}, cfgs=LINUX_X86)
    assert flags == ["--cfg", "home", "--cfg", "root"], "arrays join, deepest last"
    targeted = _file(
        "../.cargo/config.toml",
        {
            "target": {
                triple: {"rustflags": ["--cfg", "t"]},
                'cfg(target_os = "linux")': {"rustflags": ["--cfg", "c"]},
                "cfg(windows)": {"rustflags": ["--cfg", "w"]},
            }
        },
    )
    flags = effective_rustflags([home, targeted, root], triple=triple, environ={}, cfgs=LINUX_X86)
    assert sorted(flags) == sorted(["--cfg", "t", "--cfg", "c"]), "target wins over build"
    env = {"RUSTFLAGS": "--cfg env"}
    assert effective_rustflags([root], triple=triple, environ=env) == ["--cfg", "env"]


def test_config_files_walk_up_from_the_root_and_home_comes_first(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home).mkdir()
    (home / "config.toml").write_text('[build]\nrustflags = ["a"]\n')
    monkeypatch.setenv("CARGO_HOME", str(home))
    root = tmp_path / "mono" / "ws"
    (root / ".cargo").mkdir(parents=True)
    (root / ".cargo" / "config.toml").write_text("[env]\nX = '1'\n")
    (tmp_path / "mono" / ".cargo").mkdir()
    (tmp_path / "mono" / ".cargo" / "config").write_text("[net]\noffline = true\n")
    labels = [c.label for c in cargo_config.config_files(root)]
    assert labels == ["$CARGO_HOME/config.toml", "../.cargo/config", ".cargo/config.toml"]
    assert [c.label for c in cargo_config.config_files(root, include_outside=False)] == [
        ".cargo/config.toml"
    ]
    assert [c.label for c in cargo_config.outside_config_files(root)] == [
        "$CARGO_HOME/config.toml"
    ], "[net] only: nothing a Docker build misses"


def test_records_from_the_remote_take_plain_relative_paths_only():
    assert record.Record.from_json({"files": ["shared/a.txt"], "env": ["X"]}) is not None
    assert record.Record.from_json({"files": ["/etc/passwd"], "env": []}) is None
    assert record.Record.from_json({"files": [], "env": ["$(rm)"]}) is None
    assert record.Record.from_json("nonsense") is None


def test_discovered_paths_outside_trees_only(tmp_path):
    ws_root = tmp_path / "ws"
    (ws_root / "a" / "src").mkdir(parents=True)
    (ws_root / "a" / "Cargo.toml").write_text("[package]\n")
    (ws_root / "a" / "src" / "main.rs").write_text("fn main() {}\n")
    (ws_root / "a" / ".vscode").mkdir()
    (ws_root / "a" / ".vscode" / "snippet.txt").write_text("one\n")
    ws = cargo.Workspace(root=ws_root, target_dir=ws_root / "target", packages=())
    place = discover.BuildPlace(
        out_dir=ws_root / "target" / "x86_64-unknown-linux-gnu" / "release",
        host_dir=ws_root / "target" / "release",
        workspace_prefix=str(ws_root),
        skip_prefixes=("/cargo",),
    )
    covered = discover.tree_covered([ws_root / "a"], ws.target_dir)
    label = discover.host_label
    assert label("a/src/main.rs", place, ws, covered) is None
    # rustc read it, the tree hash skips editor folders: it must be a line of its own
    assert label("a/.vscode/snippet.txt", place, ws, covered) == "a/.vscode/snippet.txt"
    # a watched directory inside the package is never "covered" (its new files must count)
    assert label("a/src", place, ws, covered) == "a/src"
    assert label("a/src/../../shared/x.txt", place, ws, covered) == "shared/x.txt"
    assert label(str(tmp_path / "up.txt"), place, ws, covered) == "../up.txt"
    assert label("/cargo/registry/src/x.rs", place, ws, covered) is None
    docker = discover.BuildPlace(out_dir=ws_root, host_dir=ws_root, workspace_prefix="/workspace")
    assert label("/workspace/shared/y.txt", docker, ws, covered) == "shared/y.txt"
    assert label("/usr/include/stdio.h", docker, ws, covered) is None


def test_watched_directory_digest_sees_added_removed_and_nested_files(tmp_path):
    d = tmp_path / "migrations"
    (d / ".vscode").mkdir(parents=True)
    (d / "001.sql").write_text("a")
    (tmp_path / "target").mkdir()
    first = tree.read_digest(d, tmp_path / "target")
    assert first.startswith("dir:")
    (d / "002.sql").write_text("b")
    added = tree.read_digest(d, tmp_path / "target")
    assert added != first
    (d / ".vscode" / "x").write_text("c")  # no folder is skipped inside a watched directory
    nested = tree.read_digest(d, tmp_path / "target")
    assert nested != added
    (d / ".vscode" / "x").unlink()
    (d / "002.sql").unlink()
    assert tree.read_digest(d, tmp_path / "target") == first
    (d / "sub").mkdir()  # an empty directory is seen too (cargo sees its mtime)
    assert tree.read_digest(d, tmp_path / "target") != first
    # the target dir, written by every build, never makes a watched root directory churn
    before = tree.read_digest(tmp_path, tmp_path / "target")
    (tmp_path / "target" / "out.o").write_text("build output")
    assert tree.read_digest(tmp_path, tmp_path / "target") == before
    assert tree.read_digest(tmp_path / "nope") == "absent"
