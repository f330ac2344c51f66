#!/usr/bin/env python3
"""The everyday loop, measured: `cdk watch --hotswap` against moto, edit one function, time
edit -> its new code deployed, for constructs_rust and cargo-lambda-cdk on the same workspace.

    python bench/watch_loop.py --n 20 --edits 3 --out bench/RESULTS-watch.md

Per contender, in its own copy of one generated workspace (bench/run.py's N-function
workspace: N lambda_runtime functions + a shared lib crate, one Cargo.lock) with its own
target dir, caches and moto server:

1. `cdk bootstrap` and a first `cdk deploy` (the cold build; not part of the loop);
2. `cdk watch --hotswap` started and left to finish its own first cycle (nothing changed);
3. per edit: the first function's handler gets a new REVISION constant; the clock runs from
   the write until moto reports a new CodeSha256 for that function (polled every 50 ms), then
   until `cdk watch` is idle again. Checked each time: the other N-1 functions' CodeSha256 did
   not change, how many cargo / cargo-lambda builds ran (PATH shims), and that the new code
   answers: the staged bootstrap of the hotswapped asset is invoked locally through
   constructs_rust.testing (moto does not run functions) and must report the new revision;
4. after the last edit the watch is left alone for --quiet seconds: any synth or build in that
   window is a rebuild loop on the tools' own outputs.

The watch settings are the ones docs/watch.md recommends for an app whose Rust workspace lives in
the app directory (`**/target` excluded; cdk.out is always excluded by the CLI). Ratios are
CLC / CR, measured in one run; the machine must be otherwise quiet (2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import run as bench  # noqa: E402

import deploy_local  # noqa: E402
import moto_gaps  # noqa: E402
from constructs_rust._support.watch_config import CDK_INIT_WATCH  # noqa: E402

REPO = bench.REPO
STACK = bench.STACK
WATCH = {"include": ["**"], "exclude": ["**/target", "**/__pycache__", "cdk.out*", "*.log"]}
#: wait_idle's answer when the watch never settles.
LOOPING = float("inf")
_BUILDS = ("cargo lambda build", "cargo-lambda lambda build", "cargo build")
_IDLE_MARKERS = ("Deployment time", "hotswapped!", "Triggering initial", "Total time")


def _log(msg: str) -> None:
    bench.log(msg)


class Contender:
    def __init__(
        self, name: str, template: Path, work: Path, n: int, python: Path, env, watch: Dict
    ):
        self.name, self.n = name, n
        self.root = work / name
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.copytree(template, self.root, ignore=shutil.ignore_patterns("target", "cdk.out*"))
        app = {"constructs_rust": bench.APP_CR, "cargo_lambda_cdk": bench.APP_CLC}[name]
        (self.root / "app.py").write_text(app.format(stack=STACK, members=bench.members(n)))
        (self.root / "cdk.json").write_text(json.dumps({"app": f"{python} app.py", "watch": watch}))
        self.shim_log = work / f"{name}-shims.log"
        self.shim_log.write_text("")
        self.env = dict(env)
        self.env["BENCH_SHIM_LOG"] = str(self.shim_log)
        self.env["CONSTRUCTS_RUST_CACHE_DIR"] = str(work / f"{name}-cr-cache")
        if name == "constructs_rust":
            self.env["PYTHONPATH"] = str(REPO)
        else:
            self.env.pop("PYTHONPATH", None)
        self.cli_log = work / f"{name}-cdk.log"
        self.rev = 0

    def builds(self) -> int:
        """Top-level cargo builds (``cargo lambda build``, ``cargo build``) the shims logged."""
        count = 0
        for line in self.shim_log.read_text().splitlines():
            tool, depth, args = (line.split("\t", 2) + ["", ""])[:3]
            kind = bench.command_kind(tool, args)
            count += depth == "0" and kind in _BUILDS
        return count

    def edit(self) -> None:
        self.rev += 1
        main = self.root / bench.members(self.n)[0] / "src" / "main.rs"
        main.write_text(
            re.sub(
                r"const REVISION: u32 = \d+;",
                f"const REVISION: u32 = {self.rev};",
                main.read_text(),
            )
        )


def _cli(args: List[str], c: Contender, timeout: float) -> float:
    t0 = time.perf_counter()
    with open(c.cli_log, "a") as log:
        log.write(f"$ cdk {' '.join(args)}\n")
        log.flush()
        proc = subprocess.run(
            [deploy_local._bin("cdk"), *args],
            cwd=c.root,
            env=c.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
    if proc.returncode:
        raise SystemExit(f"cdk {args[0]} failed for {c.name}; see {c.cli_log}")
    return time.perf_counter() - t0


def _shas(lam, names: Dict[str, str]) -> Dict[str, str]:
    return {
        fn: lam.get_function_configuration(FunctionName=name)["CodeSha256"]
        for fn, name in names.items()
    }


def _invoke_staged(c: Contender, fn_logical: str) -> Dict:
    """Invoke the bootstrap of the asset the template now points at (what was hotswapped)."""
    from constructs_rust.testing import LambdaEmulator

    template = json.loads((c.root / "cdk.out" / f"{STACK}.template.json").read_text())
    key = template["Resources"][fn_logical]["Properties"]["Code"]["S3Key"]
    asset = c.root / "cdk.out" / f"asset.{key.split('.')[0]}"
    with LambdaEmulator() as emulator:
        return emulator.invoke(asset / "bootstrap", {"text": "hot swap"}).payload


class Watch:
    """`cdk watch --hotswap`, its output in a file; idle = no new output for `settle` s."""

    def __init__(self, c: Contender) -> None:
        self.c = c
        self.log_path = c.root.parent / f"{c.name}-watch.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [deploy_local._bin("cdk"), "watch", "--hotswap"],
            cwd=c.root,
            env=c.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def size(self) -> int:
        self.log.flush()
        return self.log_path.stat().st_size

    def wait_idle(self, settle: float, timeout: float) -> float:
        """Seconds until the output stopped growing (for ``settle`` s) after a marker line.
        Never idle within ``timeout`` (a rebuild loop): ``LOOPING``."""
        t0 = time.perf_counter()
        last_size, last_change = self.size(), time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            time.sleep(0.2)
            size = self.size()
            if size != last_size:
                last_size, last_change = size, time.perf_counter()
            elif time.perf_counter() - last_change >= settle and self._ended_cycle():
                return last_change - t0
            if self.proc.poll() is not None:
                raise SystemExit(f"cdk watch exited; see {self.log_path}")
        _log(f"cdk watch not idle after {timeout}s (a loop?); see {self.log_path}")
        return LOOPING

    def _ended_cycle(self) -> bool:
        text = self.log_path.read_text(errors="replace")
        return any(m in text for m in _IDLE_MARKERS)

    def synth_count(self) -> int:
        return self.log_path.read_text(errors="replace").count("Synthesis time")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.log.close()


def measure(c: Contender, edits: int, quiet: float) -> Dict:
    import boto3

    result: Dict = {"edits": []}
    with deploy_local.MotoServer(log_path=c.root.parent / f"{c.name}-moto.log") as moto:
        c.env.update(
            {
                k: v
                for k, v in deploy_local.local_aws_env(moto.endpoint, c.env).items()
                if k not in ("PATH", "PYTHONPATH")
            }
        )
        session = boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=deploy_local.REGION,
        )
        lam = session.client("lambda", endpoint_url=moto.endpoint)
        cf = session.client("cloudformation", endpoint_url=moto.endpoint)
        _cli(["bootstrap", f"aws://{deploy_local.ACCOUNT}/{deploy_local.REGION}"], c, 300)
        result["first_deploy_s"] = _cli(
            ["deploy", "--require-approval", "never", *moto_gaps.DEPLOY_FLAGS], c, 1800
        )
        resources = cf.describe_stack_resources(StackName=STACK)["StackResources"]
        names = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in resources
            if r.get("ResourceType") == "AWS::Lambda::Function"
        }
        edited = next(k for k in names if k.startswith("F1") and not k.startswith("F10"))
        _log(f"{c.name}: first deploy {result['first_deploy_s']:.1f}s; starting cdk watch")
        watch = Watch(c)
        try:
            result["watch_start_s"] = watch.wait_idle(settle=5, timeout=900)
            for k in range(edits):
                before = _shas(lam, names)
                builds0, synths0 = c.builds(), watch.synth_count()
                t0 = time.perf_counter()
                c.edit()
                while True:
                    time.sleep(0.05)
                    sha = lam.get_function_configuration(FunctionName=names[edited])["CodeSha256"]
                    if sha != before[edited]:
                        deployed = time.perf_counter() - t0
                        break
                    if time.perf_counter() - t0 > 900:
                        raise SystemExit(f"{c.name}: no hotswap after 900 s; see {watch.log_path}")
                idle = watch.wait_idle(settle=3, timeout=180) + deployed
                after = _shas(lam, names)
                t1 = time.perf_counter()
                payload = _invoke_staged(c, edited)
                invoke = time.perf_counter() - t1
                entry = {
                    "deployed_s": deployed,
                    "idle_s": idle,
                    "invoke_s": invoke,
                    "builds": c.builds() - builds0,
                    "synths": watch.synth_count() - synths0,
                    "others_changed": sum(after[f] != before[f] for f in names if f != edited),
                    "new_code_answers": payload.get("revision") == c.rev,
                }
                result["edits"].append(entry)
                _log(f"{c.name}: edit {k + 1}: {entry}")
            builds0, synths0 = c.builds(), watch.synth_count()
            time.sleep(quiet)
            result["quiet"] = {
                "seconds": quiet,
                "builds": c.builds() - builds0,
                "synths": watch.synth_count() - synths0,
            }
        finally:
            watch.stop()
    return result


def render(data: Dict[str, Dict], n: int, edits: int) -> str:
    def med(name: str, key: str) -> float:
        return statistics.median(e[key] for e in data[name]["edits"])

    rows = [
        "| contender | first deploy | edit -> new CodeSha256 (median) | edit -> watch idle "
        "| builds per edit | synths per edit | other functions changed | new code answers "
        f"| quiet {next(iter(data.values()))['quiet']['seconds']:.0f} s: synths / builds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, d in data.items():
        e = d["edits"]
        rows.append(
            f"| {bench.SHORT[name]} | {d['first_deploy_s']:.1f} s "
            f"| {med(name, 'deployed_s'):.1f} s "
            f"| {med(name, 'idle_s'):.1f} s | {sorted({x['builds'] for x in e})} "
            f"| {sorted({x['synths'] for x in e})} | {sum(x['others_changed'] for x in e)} "
            f"| {sum(x['new_code_answers'] for x in e)}/{len(e)} "
            f"| {d['quiet']['synths']} / {d['quiet']['builds']} |"
        )
    if {"constructs_rust", "cargo_lambda_cdk"} <= data.keys():
        ratio = med("cargo_lambda_cdk", "deployed_s") / med("constructs_rust", "deployed_s")
        rows.append("")
        rows.append(f"CLC / CR, edit -> new code deployed (median of {edits}): **{ratio:.2f}**")
    return "\n".join(rows) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--edits", type=int, default=3)
    ap.add_argument("--quiet", type=float, default=20.0)
    ap.add_argument("--contenders", default="constructs_rust,cargo_lambda_cdk")
    ap.add_argument("--work", default="/tmp/bench-watch")
    ap.add_argument("--clc-venv", default="/tmp/bench-venv-clc")
    ap.add_argument("--out", default="")
    ap.add_argument(
        "--init-watch",
        action="store_true",
        help="cdk.json watch settings as `cdk init` writes them (target dirs NOT excluded)",
    )
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    bench.make_shims(work / "shims")
    env = bench.base_env(work)
    pythons = {"constructs_rust": bench.MAIN_VENV / "bin" / "python"}
    contenders = args.contenders.split(",")
    if "cargo_lambda_cdk" in contenders:
        pythons["cargo_lambda_cdk"] = bench.ensure_clc_venv(Path(args.clc_venv), env)
    template = work / "template"
    _log(f"generating the {args.n}-function workspace")
    bench.generate_workspace(template, args.n, env)
    data: Dict[str, Dict] = {}
    for name in contenders:
        watch = CDK_INIT_WATCH if args.init_watch else WATCH
        c = Contender(name, template, work, args.n, pythons[name], env, watch)
        data[name] = measure(c, args.edits, args.quiet)
    (work / "results.json").write_text(json.dumps(data, indent=2))
    table = render(data, args.n, args.edits)
    text = (
        f"## cdk watch --hotswap loop, N = {args.n}, {args.edits} edits, "
        f"{'cdk init' if args.init_watch else 'recommended'} watch settings "
        f"({time.strftime('%Y-%m-%d')}, moto {moto_gaps.MOTO_VERSION})\n\n{table}"
    )
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
