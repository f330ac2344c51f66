"""Git sources without a build: reference resolution, cached shallow checkouts, errors and
redaction, against local bare repositories (file://), never the network."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import List

import aws_cdk as cdk
import pytest

from constructs_rust import ConfigurationError, GitSource, RustFunction, errors
from constructs_rust._cargo import git_source
from constructs_rust._support import session

from ..conftest import skip_bundling_app


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


class Repo:
    """A bare repository (the remote) and a working clone that pushes to it."""

    def __init__(self, base: Path) -> None:
        self.bare = base / "remote.git"
        self.work = base / "work"
        git("init", "-q", "--bare", "-b", "main", str(self.bare), cwd=base)
        git("init", "-q", "-b", "main", str(self.work), cwd=base)
        for key, value in (("user.email", "t@example.com"), ("user.name", "t")):
            git("config", key, value, cwd=self.work)
        self.url = self.bare.as_uri()

    def commit(self, files: dict, message: str = "change", branch: str = "main") -> str:
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", message, cwd=self.work)
        git("push", "-q", "--force", str(self.bare), f"HEAD:refs/heads/{branch}", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def tag(self, name: str, annotated: bool = False) -> None:
        args = ["tag", "-a", "-m", name, name] if annotated else ["tag", name]
        git(*args, cwd=self.work)
        git("push", "-q", str(self.bare), f"refs/tags/{name}", cwd=self.work)


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Repo:
    monkeypatch.setenv("CONSTRUCTS_RUST_CACHE_DIR", str(tmp_path / "cache"))
    session.default().reset()
    return Repo(tmp_path)


@pytest.fixture
def git_calls(monkeypatch) -> List[List[str]]:
    calls: List[List[str]] = []
    real = git_source._git

    def recording(args, **kw):
        calls.append(list(args))
        return real(args, **kw)

    monkeypatch.setattr(git_source, "_git", recording)
    return calls


def test_branch_tag_annotated_tag_head_and_commit_resolve(repo):
    first = repo.commit({"a.txt": "1"})
    repo.tag("v1")
    repo.tag("v1-annotated", annotated=True)
    second = repo.commit({"a.txt": "2"})
    assert git_source.resolve(GitSource(remote=repo.url, reference="main")) == second
    assert git_source.resolve(GitSource(remote=repo.url)) == second  # the remote's HEAD
    assert git_source.resolve(GitSource(remote=repo.url, reference="v1")) == first
    assert git_source.resolve(GitSource(remote=repo.url, reference="v1-annotated")) == first
    assert git_source.resolve(GitSource(remote=repo.url, reference="refs/tags/v1")) == first
    assert git_source.resolve(GitSource(remote=repo.url, reference=first)) == first


def test_a_moved_branch_resolves_to_its_new_commit_in_the_next_synth(repo):
    first = repo.commit({"a.txt": "1"})
    assert git_source.resolve(GitSource(remote=repo.url, reference="main")) == first
    second = repo.commit({"a.txt": "2"})
    session.default().reset()  # a new synth (process)
    assert git_source.resolve(GitSource(remote=repo.url, reference="main")) == second


def test_missing_ref_names_remote_and_ref(repo):
    repo.commit({"a.txt": "1"})
    with pytest.raises(ConfigurationError) as err:
        git_source.resolve(GitSource(remote=repo.url, reference="no-such-branch"))
    text = str(err.value)
    assert "git.reference='no-such-branch'" in text and repo.url in text and "Fix:" in text
    with pytest.raises(ConfigurationError, match="FULL commit id"):
        git_source.resolve(GitSource(remote=repo.url, reference="deadbeef"))


def test_unreachable_remote_is_a_clear_error(tmp_path, repo):
    missing = (tmp_path / "nowhere.git").as_uri()
    with pytest.raises(ConfigurationError) as err:
        git_source.resolve(GitSource(remote=missing, reference="main"))
    assert f"cannot reach the git remote {missing}" in str(err.value)
    assert "git.remote" in str(err.value) and "Fix:" in str(err.value)


def test_credentials_in_a_url_never_reach_a_message(repo):
    with socket.socket() as sock:  # a closed local port: refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"https://deploy-user:ghp_SECRET123@127.0.0.1:{port}/org/repo.git"
    with pytest.raises(ConfigurationError) as err:
        git_source.resolve(GitSource(remote=url, reference="main"))
    assert "SECRET123" not in str(err.value) and "deploy-user" not in str(err.value)
    assert f"https://***@127.0.0.1:{port}/org/repo.git" in str(err.value)
    assert errors.redact("see http://tok@h/x and ssh://u:p@h:22/r") == (
        "see http://***@h/x and ssh://***@h:22/r"
    )


def test_checkout_is_shallow_keeps_no_url_and_is_reused_without_git(repo, git_calls):
    repo.commit({"a.txt": "1"})
    second = repo.commit({"a.txt": "2", "dir/b.txt": "b"})
    source = GitSource(remote=repo.url, reference="main")
    src = git_source.checkout(source, second, construct_path="S/Fn")
    assert (src / "a.txt").read_text() == "2" and (src / "dir" / "b.txt").read_text() == "b"
    assert git("rev-parse", "HEAD", cwd=src) == second
    assert git("rev-list", "--count", "HEAD", cwd=src) == "1", "shallow: one commit"
    assert not (src / ".git" / "FETCH_HEAD").exists()
    assert str(repo.bare) not in (src / ".git" / "config").read_text()
    git_calls.clear()
    assert git_source.checkout(source, second, construct_path="S/Fn") == src
    assert git_calls == [], "a cached checkout runs no git at all"


def test_an_old_commit_id_is_fetched_and_an_unknown_one_is_a_clear_error(repo):
    first = repo.commit({"a.txt": "1"})
    repo.commit({"a.txt": "2"})
    source = GitSource(remote=repo.url, reference=first)
    src = git_source.checkout(source, git_source.resolve(source), construct_path="S/Fn")
    assert (src / "a.txt").read_text() == "1"
    unknown = "0123456789abcdef0123456789abcdef01234567"
    with pytest.raises(ConfigurationError) as err:
        git_source.checkout(
            GitSource(remote=repo.url, reference=unknown), unknown, construct_path="S/Fn"
        )
    assert f"the commit {unknown} is not in the git remote {repo.url}" in str(err.value)


def test_force_clone_fetches_again_and_keeps_the_target_dir(repo, git_calls):
    commit = repo.commit({"a.txt": "1"})
    source = GitSource(remote=repo.url, reference="main", force_clone=True)
    src = git_source.checkout(source, commit, construct_path="S/Fn")
    (src / "a.txt").write_text("edited locally")
    (src / "target" / "constructs-rust").mkdir(parents=True)
    (src / "target" / "constructs-rust" / "kept").write_text("x")
    git_calls.clear()
    src = git_source.checkout(source, commit, construct_path="S/Fn")
    assert any(c[0] == "fetch" for c in git_calls)
    assert (src / "a.txt").read_text() == "1"
    assert (src / "target" / "constructs-rust" / "kept").read_text() == "x"


def test_bundling_skipped_runs_no_git_and_rejects_paths_outside_the_repo(repo, git_calls):
    stack = cdk.Stack(skip_bundling_app(), "S")
    source = GitSource(remote=repo.url, reference="main")
    fn = RustFunction(stack, "Fn", manifest_path="crates/api", git=source)
    assert git_calls == [], "cdk ls / other stacks: no network, no clone"
    other = RustFunction(
        stack, "Fn2", manifest_path="crates/api", git=GitSource(remote=repo.url, reference="v2")
    )
    assert fn.node.find_child("Code").asset_hash != other.node.find_child("Code").asset_hash
    with pytest.raises(ConfigurationError, match=r"\[S/Bad\] manifest_path='../x'"):
        RustFunction(stack, "Bad", manifest_path="../x", git=source)
