"""cdk.json watch settings against the workspace's target dir (constructs_rust/watch.py)."""

import json
from pathlib import Path

import pytest

from constructs_rust._support import watch_config as watch

INIT = watch.CDK_INIT_WATCH


@pytest.mark.parametrize(
    "settings, target, expected",
    [
        (INIT, "lambdas/target", True),
        (INIT, "target", True),
        ({**INIT, "exclude": [*INIT["exclude"], "**/target"]}, "lambdas/target", False),
        ({"include": ["**"], "exclude": ["lambdas/target"]}, "lambdas/target", False),
        ({"include": ["**"], "exclude": ["lambdas/target/**"]}, "lambdas/target", False),
        ({"include": ["**"], "exclude": ["./lambdas/target/"]}, "lambdas/target", False),
        ({"include": ["**"], "exclude": ["lambdas"]}, "lambdas/target", False),
        ({"include": ["app.py", "stacks/**", "lambdas/**"]}, "lambdas/target", True),
        ({"include": ["app.py", "stacks/**", "lambdas/*/src/**"]}, "lambdas/target", False),
        ({"include": "**"}, "lambdas/target", True),
        ({}, "x/target", True),
    ],
)
def test_watched(tmp_path: Path, settings, target, expected):
    assert watch.watched(tmp_path / target, tmp_path, settings) is expected


def test_a_target_dir_outside_the_app_is_never_watched(tmp_path: Path):
    app = tmp_path / "app"
    app.mkdir()
    assert not watch.watched(tmp_path / "elsewhere" / "target", app, INIT)


def test_warns_once_with_the_line_to_add_and_not_without_watch(tmp_path: Path, capsys):
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "python3 app.py", "watch": INIT}))
    target = tmp_path / "lambdas" / "target"
    message = watch.warn_if_watched(target, app_dir=tmp_path)
    assert message and "lambdas/target/" in message and '"**/target"' in message
    assert capsys.readouterr().err.count("WARNING") == 1
    assert watch.warn_if_watched(target, app_dir=tmp_path) is None, "once per target dir"
    other = tmp_path / "other"
    (other).mkdir()
    (other / "cdk.json").write_text(json.dumps({"app": "python3 app.py"}))
    assert watch.warn_if_watched(other / "target", app_dir=other) is None
    assert watch.warn_if_watched(tmp_path / "none" / "target", app_dir=tmp_path / "none") is None
