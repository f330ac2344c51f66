"""The support room's promises: one settings table, one output channel, nothing done on import."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_rust._support import log, paths, settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_the_docs_table_and_nowhere_else_read() -> None:
    table = (ROOT / "docs" / "settings.md").read_text()
    documented = set(re.findall(r"^\| `(CONSTRUCTS_RUST_[A-Z_]+)` \|", table, re.M))
    assert documented == set(settings.ALL)
    readers = []
    for path in (ROOT / "constructs_rust").rglob("*.py"):
        if path.name == "settings.py":
            continue
        text = path.read_text()
        if re.search(r"environ(\.get)?\(?\[?\s*[\"']CONSTRUCTS_RUST_", text):
            readers.append(path.name)
    assert not readers, f"read CONSTRUCTS_RUST_* outside _support/settings.py: {readers}"


def test_flags_read_the_environment_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.VERIFY, raising=False)
    assert not settings.verify()
    for off in ("0", "false", "off", " no "):
        monkeypatch.setenv(settings.VERIFY, off)
        assert not settings.verify()
    monkeypatch.setenv(settings.VERIFY, "1")
    assert settings.verify()


def test_say_prints_the_same_line_as_before_and_explain_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(settings.EXPLAIN, raising=False)
    log.say("cargo created Cargo.lock")
    log.say("https://user:secret@example.com/repo.git fetched")
    log.explain("S/Fn fingerprint input: x")
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "constructs_rust: cargo created Cargo.lock",
        "constructs_rust: https://***@example.com/repo.git fetched",
    ]
    monkeypatch.setenv(settings.EXPLAIN, "1")
    log.explain("S/Fn fingerprint input: x")
    assert capsys.readouterr().err == "constructs_rust: S/Fn fingerprint input: x\n"


def test_paths_are_spelled_once() -> None:
    target = Path("t")
    assert paths.records_dir(target) == Path("t/constructs-rust/records")
    assert paths.CONTAINER_TARGET_DIR.startswith(paths.CONTAINER_BUILD_DIR + "/")


def test_importing_the_package_changes_nothing_in_the_process() -> None:
    probe = (
        "import sys, logging\n"
        "before = sys.excepthook\n"
        "import constructs_rust, constructs_rust.testing, constructs_rust.container\n"
        "from constructs_rust._support import timing\n"
        "assert sys.excepthook is before, 'excepthook replaced on import'\n"
        "assert not timing._registered, 'atexit handler registered on import'\n"
        "assert not logging.getLogger('constructs_rust').handlers, 'handler added on import'\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_session_keeps_typed_memos_notices_and_slots_until_reset() -> None:
    from constructs_rust._support import session

    numbers: session.MemoKey[str, int] = session.MemoKey("test.numbers")
    queue: session.SlotKey[list] = session.SlotKey("test.queue")
    s = session.Session()
    s.memo(numbers)["a"] = 1
    assert s.memo(numbers) == {"a": 1}
    assert s.once("notice") and not s.once("notice")
    made = s.slot(queue, list)
    assert s.slot(queue, lambda: ["other"]) is made
    s.reset()
    assert s.memo(numbers) == {} and s.once("notice") and s.slot(queue, list) is not made


def test_the_active_session_is_per_app_and_the_default_one_outside_any_app() -> None:
    from constructs_rust._support import session

    app_a, app_b = object.__new__(type("RootA", (), {})), object.__new__(type("RootB", (), {}))
    a, b = session.session_for(app_a), session.session_for(app_b)
    assert a is session.session_for(app_a) and a is not b
    assert session.current() is session.default()
    with a.active():
        assert session.current() is a
        with b.active():  # nested: an app synthesized while another is being built
            assert session.current() is b
        assert session.current() is a
    assert session.current() is session.default()
