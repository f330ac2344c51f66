"""Issue 19's table: for each class of input cargo reads, does an edit change the asset hash AND
the deployed bytes? Run it against any checkout of the library (before/after a change):

    python bench/never_stale.py                      # this checkout
    python bench/never_stale.py --library /tmp/orig  # another checkout (e.g. a git worktree)

The workspace and the edits are the ones of tests/integration/test_never_stale.py (binaries
``a`` and ``b``; ``a`` reads every class, ``b`` none). Every synth is a new process
(``python app.py``), as ``cdk synth`` is; the staged x86_64 bootstraps are run and their
output compared. Prints a markdown table (also to ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.test_never_stale import EDITS, WORKSPACE_WIDE, _apply, make_workspace  # noqa: E402

APP = """\
import json, os, sys
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs_rust import RustFunction

app = cdk.App(outdir=os.environ["OUT"])
stack = cdk.Stack(app, "S")
fns = {b: RustFunction(stack, b, manifest_path=os.environ["WS"], binary_name=b,
                       architecture=lambda_.Architecture.X86_64) for b in "ab"}
assembly = app.synth()
result = {}
for b, fn in fns.items():
    code = fn.node.find_child("Code")
    result[b] = {"hash": code.asset_hash, "dir": os.path.join(os.environ["OUT"], code.asset_path)}
print("RESULT " + json.dumps(result))
"""


class Env:
    """What _apply needs of pytest's monkeypatch: setenv into the synth environment."""

    def __init__(self) -> None:
        self.vars: Dict[str, str] = {}

    def setenv(self, name: str, value: str) -> None:
        self.vars[name] = value


def synth(library: Path, ws: Path, out: Path, env: Env) -> Dict[str, Tuple[str, str]]:
    app = out.parent / "app.py"
    app.write_text(APP)
    full = {k: v for k, v in os.environ.items() if not k.startswith("CRT_")}
    full.update(PYTHONPATH=str(library), WS=str(ws), OUT=str(out), **env.vars)
    proc = subprocess.run(
        [sys.executable, str(app)], env=full, capture_output=True, text=True, cwd=out.parent
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    found = json.loads(line[len("RESULT ") :])
    printed = {}
    for b, entry in found.items():
        run = subprocess.run(
            [os.path.join(entry["dir"], "bootstrap")], capture_output=True, text=True, env={}
        )
        printed[b] = (entry["hash"], run.stdout)
    return printed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--library", default=str(REPO), help="checkout whose constructs_rust to use")
    ap.add_argument("--out", default="-")
    args = ap.parse_args()
    library = Path(args.library).resolve()
    work = Path(tempfile.mkdtemp(prefix="never-stale-"))
    ws = make_workspace(work / "mono" / "ws")
    env = Env()
    before = synth(library, ws, work / "out0", env)
    rows: List[str] = []
    for n, (what, key, new) in enumerate(EDITS, start=1):
        _apply(ws, key, env)  # type: ignore[arg-type]
        after = synth(library, ws, work / f"out{n}", env)
        value = dict(line.split("=", 1) for line in after["a"][1].splitlines()).get(key)
        hash_changed = after["a"][0] != before["a"][0]
        b_same = after["b"][0] == before["b"][0]
        rows.append(
            f"| {what} | {'yes' if hash_changed else '**no**'} | "
            f"{'yes' if value == new else '**no** (old binary)'} | "
            + (
                "— (config applies to b too)"
                if key in WORKSPACE_WIDE
                else ("yes" if b_same else "**no**")
            )
            + " |"
        )
        before = after
    text = "\n".join(
        [
            f"Library: `{library}` (git {_git(library)})",
            "",
            "| class of input | a's hash changes | a's deployed bytes change "
            "| b's hash unchanged |",
            "|---|---|---|---|",
            *rows,
        ]
    )
    print(text)
    if args.out != "-":
        Path(args.out).write_text(text + "\n")


def _git(path: Path) -> str:
    proc = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return proc.stdout.strip() or "?"


if __name__ == "__main__":
    main()
