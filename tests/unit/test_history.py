""" "asset hash changed, because": the inputs a person can act on (files edited, added,
removed; dependency versions; settings), each input's old line before its new one, in the order
of the input list, whatever the digests."""

from constructs_rust._fingerprint import history, tree
from constructs_rust._support import session
from constructs_rust._support.disk_memo import digest

# A reverted edit: the new digest sorts before the old one (the order bug of issue 21).
OLD_TREE = "tree api=c280aaaa"
NEW_TREE = "tree api=7ae2bbbb"


def test_old_line_before_new_line_whatever_the_digests():
    assert history.changed_lines(["v", OLD_TREE], ["v", NEW_TREE]) == [
        f"- {OLD_TREE}",
        f"+ {NEW_TREE}",
    ]
    assert history.changed_lines(["v", NEW_TREE], ["v", OLD_TREE]) == [
        f"- {NEW_TREE}",
        f"+ {OLD_TREE}",
    ]


def test_a_tree_is_named_by_file_when_its_files_are_known():
    before = {"api": ["src/main.rs=aa:-", "src/old.rs=bb:-", "run.sh=cc:-"]}
    after = {"api": ["src/main.rs=a2:-", "src/new.rs=dd:-", "run.sh=cc:x"]}
    assert history.changed_lines(["v", OLD_TREE], ["v", NEW_TREE], before, after) == [
        "executable bit of api/run.sh",
        "edited api/src/main.rs",
        "added api/src/new.rs",
        "removed api/src/old.rs",
    ]
    root = history.changed_lines(
        ["tree .=1"], ["tree .=2"], {".": ["src/main.rs=a:-"]}, {".": ["src/main.rs=b:-"]}
    )
    assert root == ["edited src/main.rs"], "the workspace root's own package: no ./ prefix"
    unknown = history.changed_lines(["v", OLD_TREE], ["v", NEW_TREE], None, after)
    assert unknown == [f"- {OLD_TREE}", f"+ {NEW_TREE}"], "no detail kept: the digests"


def test_kinds_in_input_order_dependencies_and_settings_readable():
    before = [
        "constructs-rust-fingerprint-v3",
        "tree api=1",
        "tree shared=1",
        "dep itoa 1.0.19 crates.io features=[] checksum=x",
        "dep serde 1.0.1 crates.io features=[derive] checksum=s",
        "setting features=",
        "setting environment=A=sha256:1\x1fB=sha256:2",
        "read proto/api.proto=aa:-",
        "read proto/gone.proto=bb:-",
        "env API_KEY=unset",
    ]
    after = [
        "constructs-rust-fingerprint-v3",
        "tree api=1",
        "tree shared=2",
        "dep itoa 1.0.15 crates.io features=[] checksum=y",
        "dep serde 1.0.1 crates.io features=[derive] checksum=s",
        "setting features=json-logs",
        "setting environment=A=sha256:1\x1fB=sha256:3",
        "read proto/api.proto=cc:-",
        "read proto/gone.proto=absent",
        "env API_KEY=sha256:5",
    ]
    trees = ({"shared": ["src/lib.rs=1:-"]}, {"shared": ["src/lib.rs=2:-"]})
    assert history.changed_lines(before, after, *trees) == [
        "edited shared/src/lib.rs",
        "- dep itoa 1.0.19 crates.io features=[] checksum=x",
        "+ dep itoa 1.0.15 crates.io features=[] checksum=y",
        "- setting features=",
        "+ setting features=json-logs",
        "- setting environment=A=sha256:1 B=sha256:2",
        "+ setting environment=A=sha256:1 B=sha256:3",
        "edited proto/api.proto (read by the build)",
        "removed proto/gone.proto (read by the build)",
        "- env API_KEY=unset",
        "+ env API_KEY=sha256:5",
    ]


def test_a_package_tree_that_comes_or_goes_is_named_as_such():
    assert history.changed_lines(["tree api=1"], ["tree api=1", "tree shared=2"]) == [
        "+ tree shared (a package the binary now compiles)"
    ]
    assert history.changed_lines(["tree api=1", "tree shared=2"], ["tree api=1"]) == [
        "- tree shared (no longer compiled)"
    ]


def test_a_new_dependency_and_a_dropped_one():
    lines = history.changed_lines(
        ["tree a=1", "dep memchr 2.7.0 crates.io features=[] checksum=m"],
        ["tree a=1", "dep itoa 1.0.15 crates.io features=[] checksum=i"],
    )
    assert lines == [
        "+ dep itoa 1.0.15 crates.io features=[] checksum=i",
        "- dep memchr 2.7.0 crates.io features=[] checksum=m",
    ]


def test_record_keeps_the_files_of_each_tree_and_names_them_next_time(tmp_path):
    target = tmp_path / "target"
    one = {"api": ["src/main.rs=1:-"]}
    two = {"api": ["src/main.rs=2:-", "src/util.rs=3:-"]}
    assert history.record(target, "S/Api", "fp1", ["v", "tree api=1"], one) is None
    assert history.record(target, "S/Api", "fp2", ["v", "tree api=2"], two) == [
        "edited api/src/main.rs",
        "added api/src/util.rs",
    ]
    assert history.record(target, "S/Api", "fp1", ["v", "tree api=1"], one) == [
        "edited api/src/main.rs",
        "removed api/src/util.rs",
    ], "a revert is explained by file too"
    text = history.render("S/Api", ["edited api/src/main.rs"])
    assert text.splitlines()[1] == "constructs_rust:   edited api/src/main.rs"


def test_the_files_kept_are_exactly_what_the_tree_digest_covers(tmp_path):
    """The detail is the tree line's own entries: the hash keeps its meaning (unchanged
    fingerprints for unchanged inputs), and what the history names is what was hashed."""
    pkg = tmp_path / "pkg"
    (pkg / "src").mkdir(parents=True)
    (pkg / "Cargo.toml").write_text('[package]\nname = "pkg"\n')
    (pkg / "src" / "main.rs").write_text("fn main() {}\n")
    (pkg / "target").mkdir()
    (pkg / "target" / "junk").write_text("x")
    session.default().reset()
    files = tree.tree_files(pkg, pkg / "target")
    assert [f.split("=")[0] for f in files] == ["Cargo.toml", "src/main.rs"]
    assert tree.hash_tree(pkg, pkg / "target") == digest(list(files))
