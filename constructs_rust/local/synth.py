"""The app directory, its cdk.json, and ``cdk synth`` through the app's own CDK CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Set

from .._support import lifeline, processes
from .model import LocalError


@dataclass(frozen=True)
class App:
    directory: Path
    config: Dict[str, Any]
    """cdk.json."""

    @property
    def outdir(self) -> Path:
        """Where the CLI writes the assembly: cdk.json's ``output``, else ``cdk.out``."""
        return self.directory / str(self.config.get("output") or "cdk.out")

    @property
    def watch(self) -> Dict[str, Any]:
        watch = self.config.get("watch")
        return watch if isinstance(watch, dict) else {}


def find_app(directory: Path) -> App:
    """The CDK app in ``directory`` (LocalError when it has no cdk.json)."""
    directory = directory.resolve()
    config_file = directory / "cdk.json"
    if not config_file.is_file():
        raise LocalError(
            f"no cdk.json in {directory}: run in your CDK app's directory or give --app-dir"
        )
    try:
        config = json.loads(config_file.read_text())
    except ValueError as exc:
        raise LocalError(f"{config_file} is not valid JSON: {exc}") from None
    return App(directory, config if isinstance(config, dict) else {})


def cdk_cli(directory: Path) -> List[str]:
    """argv of the app's CDK CLI: ``node_modules/.bin/cdk`` of the app or a directory above
    it (the pinned one), else ``cdk`` on PATH, else ``npx cdk``."""
    for parent in (directory, *directory.parents):
        local = parent / "node_modules" / ".bin" / "cdk"
        if local.is_file():
            return [str(local)]
    found = shutil.which("cdk")
    if found:
        return [found]
    if shutil.which("npx"):
        return ["npx", "cdk"]
    raise LocalError(
        "the CDK CLI was found neither in node_modules/.bin nor on PATH (and npx is missing): "
        "install it with `npm install aws-cdk`, or run on an existing assembly with --no-synth"
    )


def synth_argv(app: App) -> List[str]:
    """``cdk synth`` of the whole app into its output directory; builds what is stale."""
    return [*cdk_cli(app.directory), "synth", "--quiet", "--output", str(app.outdir)]


#: Synths running now (``stop_synths`` ends them when the command stops).
_running: Set["subprocess.Popen[bytes]"] = set()
_lock = threading.Lock()


def synth(app: App) -> None:
    """Run the synth; its output goes to stderr (stdout is the caller's). LocalError when it
    fails. The CLI runs in its own process group, stopped (with the app it runs) when this is
    interrupted or ``stop_synths`` is called."""
    proc = subprocess.Popen(
        synth_argv(app),
        cwd=app.directory,
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr,
        start_new_session=True,
    )
    lifeline.watch(proc.pid, group=True)
    with _lock:
        _running.add(proc)
    try:
        proc.wait()
    except BaseException:
        processes.stop(proc)
        raise
    finally:
        with _lock:
            _running.discard(proc)
        lifeline.forget(proc.pid)
    if proc.returncode != 0:
        raise LocalError(
            f"`cdk synth` failed (exit {proc.returncode}) in {app.directory}; its output is "
            "above. Fix the app, or run on the existing assembly with --no-synth"
        )


def stop_synths() -> None:
    """Stop every synth still running (a reload's, when serve stops)."""
    with _lock:
        running = list(_running)
    for proc in running:
        processes.stop(proc)
