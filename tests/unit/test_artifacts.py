"""The local artifact store's seal: what it covers, and that a mismatch is a miss."""

import os

from constructs_rust._store import artifacts


def _artifact(root):
    root.mkdir()
    (root / "bootstrap").write_bytes(b"\x7fELF" + b"\0" * 100)
    os.chmod(root / "bootstrap", 0o755)
    (root / "extra").mkdir()
    (root / "extra" / "data.json").write_text("{}")
    artifacts.seal(root)
    return root


def test_a_sealed_artifact_is_intact_and_the_seal_is_not_one_of_its_files(tmp_path, capsys):
    art = _artifact(tmp_path / "fp")
    assert artifacts.intact(art, "bootstrap", who="S/Fn")
    assert [rel for rel, _ in artifacts.artifact_files(art)] == ["bootstrap", "extra/data.json"]
    assert capsys.readouterr().err == ""


def test_every_kind_of_damage_is_a_miss_that_removes_the_artifact(tmp_path, capsys):
    damages = {
        "flipped byte": lambda a: (a / "bootstrap").write_bytes(b"\x7fELF" + b"\1" + b"\0" * 99),
        "truncated": lambda a: (a / "bootstrap").write_bytes(b"\x7fELF"),
        "lost exec bit": lambda a: os.chmod(a / "bootstrap", 0o644),
        "extra file edited": lambda a: (a / "extra" / "data.json").write_text("[]"),
        "file added": lambda a: (a / "planted").write_text("x"),
        "file removed": lambda a: (a / "extra" / "data.json").unlink(),
        "seal removed": lambda a: (a / artifacts.SEAL).unlink(),
    }
    for i, (what, damage) in enumerate(damages.items()):
        art = _artifact(tmp_path / f"fp{i}")
        damage(art)
        assert not artifacts.intact(art, "bootstrap", who="S/Fn"), what
        assert not art.exists(), f"{what}: the damaged artifact is removed"
        err = capsys.readouterr().err
        assert "WARNING" in err and "S/Fn" in err and "building it again" in err, (what, err)


def test_a_missing_artifact_is_a_plain_miss(tmp_path, capsys):
    assert not artifacts.intact(tmp_path / "nothing", "bootstrap", who="S/Fn")
    assert capsys.readouterr().err == ""
