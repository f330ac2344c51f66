"""Git sources (``GitSource``): resolve a reference to a commit, check the commit out once.

Order of work for a function built from a repository:

1. ``resolve``: the reference becomes a commit, ``git ls-remote`` for a branch or tag (once per
   remote and reference per synth), nothing for a full commit id. A moved branch gives a new
   commit, hence a new ``source git commit=…`` line and a new asset hash.
2. ``checkout``: ``<cache>/git/<commit>/src`` holds the checkout; a complete one is reused as
   is (no network, no clone). Otherwise ``git fetch --depth 1 <remote> <commit>`` into a fresh
   repository (a protocol-v2 server allows fetching any reachable commit; an old server that
   refuses gets a full fetch), then a detached checkout, written to a temp dir and renamed
   under a file lock. The URL is never stored in the checkout (no ``origin`` remote, no
   ``FETCH_HEAD``), and cargo's target dir inside the checkout keeps the build cache, so the
   same commit builds nothing on the next synth.

Credentials: git never prompts (``GIT_TERMINAL_PROMPT=0``, ssh in batch mode); its credential
helpers and ssh agent work as usual. ``user:token@`` in a URL is redacted from every message
the library prints or raises (``redact``); no URL or host path enters an asset hash or a
template (the hash line is the commit).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Tuple

import filelock

from .._support import log, session
from .._support.disk_memo import cache_root
from ..errors import ConfigurationError, ToolchainError, redact
from ..options import GitSource

_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
#: ls-remote and fetch: a dead remote must not hang a synth.
LS_REMOTE_TIMEOUT = 120
FETCH_TIMEOUT = 1800
#: ``git ls-remote`` answers of an app, by (remote, reference): one per synth.
GIT_COMMITS: session.MemoKey[Tuple[str, Optional[str]], str] = session.MemoKey("git.commits")


_say = log.say


def _env() -> Dict[str, str]:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def _git(
    args: List[str], *, cwd: Optional[Path] = None, timeout: int
) -> "subprocess.CompletedProcess[str]":
    git = shutil.which("git")
    if git is None:
        raise ToolchainError(
            "git is not installed, and a function is built from a git source",
            prop="git",
            fix="install git (apt-get install git), or build from a local checkout",
        )
    try:
        return subprocess.run(
            [git, *args],
            cwd=cwd,
            env=_env(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 124, "", f"no answer within {timeout} s")


def _tail(text: str, lines: int = 6) -> str:
    return redact("\n".join(text.strip().splitlines()[-lines:]))


def check_path(manifest_path: str) -> str:
    """``manifest_path`` inside the repository: relative, no ``..``."""
    path = PurePosixPath(manifest_path.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise ConfigurationError(
            "must be a path inside the repository when a git source is given",
            prop="manifest_path",
            value=manifest_path,
            fix='give it relative to the repository root, e.g. "Cargo.toml" or "crates/api"',
        )
    return path.as_posix()


def resolve(source: GitSource) -> str:
    """The commit ``source.reference`` names on the remote now (a full commit id as is)."""
    ref = source.reference
    if ref is not None and _COMMIT.match(ref):
        return ref
    key = (source.remote, ref)
    _resolved = session.current().memo(GIT_COMMITS)
    if key in _resolved:
        return _resolved[key]
    wanted = ref or "HEAD"
    # (an annotated tag's peeled line, ``<tag>^{}``, matches only its own pattern)
    patterns = [wanted] if wanted == "HEAD" else [wanted, f"{wanted}^{{}}"]
    proc = _git(["ls-remote", "--", source.remote, *patterns], timeout=LS_REMOTE_TIMEOUT)
    if proc.returncode != 0:
        raise ConfigurationError(
            f"cannot reach the git remote {redact(source.remote)} (git ls-remote exited "
            f"{proc.returncode}):\n{_tail(proc.stderr)}",
            prop="git.remote",
            fix="check the URL, the network and your credentials (git's credential helper or "
            "ssh agent; git is run without prompting)",
        )
    refs: Dict[str, str] = {}
    for line in proc.stdout.splitlines():
        sha, _, name = line.partition("\t")
        refs[name.strip()] = sha.strip()
    candidates = (
        [wanted]
        if wanted == "HEAD" or wanted.startswith("refs/")
        else [f"refs/{wanted}", f"refs/tags/{wanted}", f"refs/heads/{wanted}"]
    )
    for name in candidates:
        # an annotated tag: its ^{} line is the commit it points at
        commit = refs.get(f"{name}^{{}}") or refs.get(name)
        if commit:
            _resolved[key] = commit
            return commit
    short = bool(re.fullmatch(r"[0-9a-f]{7,39}", wanted))
    raise ConfigurationError(
        f"no branch, tag or ref {wanted!r} in the git remote {redact(source.remote)}",
        prop="git.reference",
        value=wanted,
        fix=(
            "give the FULL commit id (abbreviated ids cannot be resolved without a clone)"
            if short
            else f"use a branch, tag or full commit id that exists there (`git ls-remote "
            f"{redact(source.remote)}` lists the refs)"
        ),
    )


def _root() -> Path:
    return cache_root() / "git"


def checkout_dir(commit: str) -> Path:
    """Where the checkout of ``commit`` lives (``src``; ``complete`` marks it finished)."""
    return _root() / commit / "src"


def checkout(source: GitSource, commit: str, *, construct_path: str) -> Path:
    """The checkout of ``commit`` (cached; fetched and checked out when missing or forced)."""
    final = _root() / commit
    if (final / "complete").is_file() and not source.force_clone:
        return final / "src"
    _root().mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(_root() / f"{commit}.lock")):
        if (final / "complete").is_file() and not source.force_clone:
            return final / "src"  # another synth finished it while this one waited
        _say(
            f"{construct_path}: fetching {source.remote} "
            f"{source.reference or 'HEAD'} = {commit[:12]} (shallow)"
        )
        tmp = _root() / f".tmp-{uuid.uuid4().hex}"
        try:
            _fetch(source, commit, tmp / "src")
            old_target = final / "src" / "target"
            if old_target.is_dir():  # force_clone: keep the build cache of this commit
                os.rename(old_target, tmp / "src" / "target")
            (tmp / "complete").write_text(commit + "\n")
            if final.exists():
                shutil.rmtree(final)
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final / "src"


def _fetch(source: GitSource, commit: str, work: Path) -> None:
    work.mkdir(parents=True)
    remote = source.remote
    _checked(_git(["init", "-q", str(work)], timeout=60), source, "git init")
    shallow = _git(
        ["fetch", "-q", "--depth", "1", "--no-tags", "--", remote, commit],
        cwd=work,
        timeout=FETCH_TIMEOUT,
    )
    if shallow.returncode != 0:
        # An old server (protocol v0 without uploadpack.allowReachableSHA1InWant) refuses a
        # commit it does not advertise: fetch every branch and tag instead.
        full = _git(
            [
                "fetch",
                "-q",
                "--no-tags",
                "--",
                remote,
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            ],
            cwd=work,
            timeout=FETCH_TIMEOUT,
        )
        if full.returncode != 0:
            raise ConfigurationError(
                f"cannot fetch from the git remote {redact(remote)} (git fetch exited "
                f"{full.returncode}):\n{_tail(full.stderr or shallow.stderr)}",
                prop="git.remote",
                fix="check the URL, the network and your credentials (git's credential "
                "helper or ssh agent; git is run without prompting)",
            )
    exists = _git(["cat-file", "-e", f"{commit}^{{commit}}"], cwd=work, timeout=60)
    if exists.returncode != 0:
        raise ConfigurationError(
            f"the commit {commit} is not in the git remote {redact(remote)}",
            prop="git.reference",
            value=source.reference,
            fix="give a commit id that exists there (pushed, and reachable from a branch or tag)",
        )
    _checked(
        _git(
            ["-c", "advice.detachedHead=false", "checkout", "-q", "--detach", commit],
            cwd=work,
            timeout=600,
        ),
        source,
        "git checkout",
    )
    (work / ".git" / "FETCH_HEAD").unlink(missing_ok=True)  # it names the URL


def _checked(proc: "subprocess.CompletedProcess[str]", source: GitSource, what: str) -> None:
    if proc.returncode != 0:
        raise ConfigurationError(
            f"{what} failed for {redact(source.remote)}:\n{_tail(proc.stderr)}",
            prop="git.remote",
            fix="check the repository and the free space of the cache directory",
        )


def history_dir() -> Path:
    """Where "why did it change" keeps the inputs of git-sourced functions (their target dirs
    are per commit, so the previous commit's inputs are not in the new checkout)."""
    return _root() / "history"


def source_line(commit: str) -> str:
    """The asset-hash line of a git source: the commit (no URL: it may hold credentials or
    a host path, and a mirror of the same commit builds the same bytes)."""
    return f"source git commit={commit}"
