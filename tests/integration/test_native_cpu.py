"""Issue #28 item 5: a user's ``target-cpu=native`` (a config file's rustflags, RUSTFLAGS)
never reaches a Lambda binary: the bootstrap has the same bytes as one built without it (the
Lambda CPU), a warning says so once, and an explicit CPU the user names stays theirs."""

from __future__ import annotations

import pytest

from .test_hash_precision import MEMBERS, Calls, make_workspace, synth
from .test_hash_precision import calls as calls  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.build]


def test_native_in_config_or_rustflags_builds_the_lambda_cpu_and_says_so_once(
    tmp_path,
    calls: Calls,  # noqa: F811
    monkeypatch,
    capfd,
):
    for name in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS"):
        monkeypatch.delenv(name, raising=False)
    members = {"c": MEMBERS["c"]}
    plain = make_workspace(tmp_path / "plain", members)
    _, want = synth(plain, "c", tmp_path / "o0")

    tuned = make_workspace(tmp_path / "tuned", members)
    (tuned / ".cargo").mkdir()
    (tuned / ".cargo" / "config.toml").write_text(
        '[build]\nrustflags = ["-C", "target-cpu=native"]\n'
    )
    capfd.readouterr()
    _, got = synth(tuned, "c", tmp_path / "o1")
    err = capfd.readouterr().err
    assert got["c"] == want["c"], "a config file's target-cpu=native tuned the binary"
    assert err.count("target-cpu=native") == 1 and "target-cpu=haswell" in err, err

    env_tuned = make_workspace(tmp_path / "env", members)
    monkeypatch.setenv("RUSTFLAGS", "-Ctarget-cpu=native")
    _, got = synth(env_tuned, "c", tmp_path / "o2")
    assert got["c"] == want["c"], "RUSTFLAGS=-Ctarget-cpu=native tuned the binary"

    mine = make_workspace(tmp_path / "mine", members)
    monkeypatch.setenv("RUSTFLAGS", "-Ctarget-cpu=x86-64")
    capfd.readouterr()
    _, explicit = synth(mine, "c", tmp_path / "o3")
    assert explicit["c"] != want["c"], "an explicit CPU the user names stays theirs"
    assert "target-cpu=native" not in capfd.readouterr().err
