#!/usr/bin/env python3
"""Team-scale benchmark: a fresh clone at a NEW path, with no cache / the remote artifact cache
warm / only sccache warm. One run, scenarios side by side, against one local moto S3 server.

    python bench/remote_cache.py --n 20            # prints a markdown table (and --out FILE)

Uses bench/run.py's workspace generator (N lambda_runtime functions + a shared lib crate) and
its PATH shims (cargo / cargo-lambda counted). Every scenario is a fresh copy of the workspace
at its own absolute path, with its own target dir, cdk.out and empty constructs_rust caches
(a fresh CI runner); the cargo home (downloaded crates) is shared, as a CI cache would be.

Scenarios, in this order:
  empty        an empty CDK app's synth (the floor), once at the start and once at the end
  cold         the first CI run: nothing to hit anywhere (empty remote, empty sccache bucket),
               remote cache read-write and RUSTC_WRAPPER=sccache, so it also fills both caches
               (one cold build serves as both the "no cache" number and the seed: this machine
               is shared, so heavy builds are kept to a minimum)
  remote-warm  CONSTRUCTS_RUST_REMOTE_CACHE (read), no sccache: downloads, runs no build
  remote-warm+library-cache   the same, with the cold run's constructs_rust cache directory
               restored first (what a CI job that caches ~/.cache/constructs-rust next to the
               cargo home gets): the dependency graphs need no `cargo tree`
  sccache-warm RUSTC_WRAPPER=sccache with the seeded bucket, no artifact cache: compiles,
               but rustc may be served from sccache (different checkout path than the seed)
  sccache-same-path   (--same-path) the same, in a fresh checkout at the cold run's path
               (that copy deleted first): what sccache gives when every runner checks out at
               one fixed path
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "scripts"))

import run as bench  # noqa: E402

import deploy_local  # noqa: E402

STACK = bench.STACK
FLOOR = "same app, bundling skipped"
ARTIFACTS_BUCKET = "bench-artifacts"
SCCACHE_BUCKET = "bench-sccache"
SCCACHE = REPO / ".venv" / "bin" / "sccache"
_HITS = re.compile(r"(\d+)/(\d+) hits, (\d+) objects, (\d+) bytes downloaded in ([0-9.]+) s")
_WRITES = re.compile(r'"(?:\x1b\[[0-9;]*m)?(PUT|POST|DELETE) /')


def log(msg: str) -> None:
    print(f"[remote-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work)
        self.work.mkdir(parents=True, exist_ok=True)
        bench.make_shims(self.work / "shims")
        self.env = bench.base_env(self.work)
        self.template = self.work / "templates" / f"ws{args.n}"
        self.runs = self.work / "runs"
        shutil.rmtree(self.runs, ignore_errors=True)
        self.results: List[Dict] = []

    def aws_env(self, endpoint: str) -> Dict[str, str]:
        env = deploy_local.local_aws_env(endpoint, base=self.env)
        env.pop("AWS_ENDPOINT_URL", None)
        env["AWS_ENDPOINT_URL_S3"] = endpoint
        env.pop("CONSTRUCTS_RUST_ENV_ACCOUNT", None)
        env.pop("PYTHONPATH", None)
        # base_env's PATH (shims first) must stay first
        env["PATH"] = self.env["PATH"]
        return env

    def sccache_env(self, endpoint: str, prefix: str) -> Dict[str, str]:
        host = endpoint.split("://", 1)[1]
        return {
            "SCCACHE_BUCKET": SCCACHE_BUCKET,
            "SCCACHE_ENDPOINT": f"http://{host}",
            "SCCACHE_S3_USE_SSL": "false",
            "SCCACHE_REGION": deploy_local.REGION,
            "SCCACHE_S3_KEY_PREFIX": prefix,
            "SCCACHE_SERVER_PORT": str(self.args.sccache_port),
            "SCCACHE_IDLE_TIMEOUT": "0",
            "SCCACHE_LOG": "",
        }

    def copy(self, name: str, app: str, dest: Optional[Path] = None) -> Path:
        root = dest or (self.runs / name / "fresh checkout" / "ws")
        if root.exists():
            shutil.rmtree(root)
        shutil.copytree(self.template, root, ignore=shutil.ignore_patterns("target", "cdk.out*"))
        (root / "app.py").write_text(app.format(stack=STACK, members=bench.members(self.args.n)))
        return root

    def synth(self, name: str, root: Path, env: Dict[str, str], moto_log: Path) -> Dict:
        shim_log = root.parent / "shim.log"
        shim_log.unlink(missing_ok=True)
        env = dict(env)
        env.update(
            BENCH_SHIM_LOG=str(shim_log),
            CDK_OUTDIR=str(root / "cdk.out"),
            CONSTRUCTS_RUST_CACHE_DIR=str(root.parent / "cr-cache"),
            PYTHONPATH=str(REPO),
        )
        writes_before = len(_WRITES.findall(moto_log.read_text(errors="replace")))
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(REPO / ".venv" / "bin" / "python"), "app.py"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - t0
        (root.parent / "synth.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise SystemExit(f"{name}: synth failed\n{proc.stderr[-4000:]}")
        counts = bench.count_invocations(shim_log)
        result = {
            "scenario": name,
            "path": str(root),
            "time": elapsed,
            "cargo": counts["cargo"],
            "cargo-lambda": counts["cargo-lambda"],
            "calls": sorted({c.strip() for c in counts["calls"] if not c.startswith(" ")}),
            "writes": len(_WRITES.findall(moto_log.read_text(errors="replace"))) - writes_before,
        }
        matches = list(_HITS.finditer(proc.stderr))
        m = matches[-1] if matches else None
        if m:
            result.update(
                hits=int(m.group(1)),
                looked_up=int(m.group(2)),
                objects=int(m.group(3)),
                bytes=int(m.group(4)),
                transfer_s=float(m.group(5)),
            )
        result["warnings"] = [line for line in proc.stderr.splitlines() if "WARNING" in line]
        template = root / "cdk.out" / f"{STACK}.template.json"
        if template.is_file():
            result["hashes"] = sorted(
                r["Properties"]["Code"]["S3Key"]
                for r in json.loads(template.read_text()).get("Resources", {}).values()
                if r["Type"] == "AWS::Lambda::Function"
            )
        import hashlib

        result["bootstraps"] = sorted(
            hashlib.sha256(b.read_bytes()).hexdigest()
            for b in (root / "cdk.out").glob("asset.*/bootstrap")
        )
        fetched = {k: result[k] for k in ("hits", "objects", "bytes") if k in result}
        log(
            f"{name:18s} {elapsed:8.2f}s cargo={result['cargo']} "
            f"cargo-lambda={result['cargo-lambda']} writes={result['writes']} {fetched}"
        )
        return result

    def sccache(self, *args: str, env: Dict[str, str]) -> str:
        proc = subprocess.run(
            [str(SCCACHE), *args], env=env, capture_output=True, text=True, timeout=120
        )
        return proc.stdout

    def sccache_stats(self, env: Dict[str, str]) -> Dict:
        stats = json.loads(self.sccache("--show-stats", "--stats-format", "json", env=env))["stats"]
        return {
            "requests": stats["compile_requests"],
            "hits": sum(stats["cache_hits"]["counts"].values()),
            "misses": sum(stats["cache_misses"]["counts"].values()),
            "not_cached": sum(stats.get("not_cached", {}).values()),
            "errors": sum(stats["cache_errors"]["counts"].values()),
        }

    def stored(self, s3, bucket: str, prefix: str) -> Dict:
        objects, size = 0, 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                objects += 1
                size += o["Size"]
        return {"objects": objects, "bytes": size}

    def floor(self, aws: Dict[str, str], moto_log: Path) -> Dict:
        """The same N-function app with bundling skipped (what `cdk synth -e OtherStack` does
        for it): CDK's own cost of N functions, the floor for any cache."""
        env = dict(aws, BENCH_SKIP_BUNDLING="1")
        return self.synth(FLOOR, self.copy("floor", bench.APP_CR), env, moto_log)

    def sccache_scenarios(
        self, seed_root: Path, scc: Dict[str, str], sc_env: Dict[str, str], moto_log: Path
    ) -> None:
        r = self.results
        self.sccache("--zero-stats", env=sc_env)
        r.append(self.synth("sccache-warm", self.copy("sccache", bench.APP_CR), scc, moto_log))
        r[-1]["sccache"] = self.sccache_stats(sc_env)
        if self.args.same_path:
            shutil.rmtree(seed_root)
            self.sccache("--zero-stats", env=sc_env)
            r.append(
                self.synth(
                    "sccache-same-path",
                    self.copy("seed", bench.APP_CR, dest=seed_root),
                    scc,
                    moto_log,
                )
            )
            r[-1]["sccache"] = self.sccache_stats(sc_env)

    def main(self) -> List[Dict]:
        log(f"N={self.args.n}: generating the workspace template in {self.template}")
        bench.generate_workspace(self.template, self.args.n, self.env)
        moto_log = self.work / "moto.log"
        with deploy_local.MotoServer(log_path=moto_log) as moto:
            s3 = _client(moto.endpoint)
            s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
            s3.create_bucket(Bucket=SCCACHE_BUCKET)
            aws = self.aws_env(moto.endpoint)
            remote = {
                "CONSTRUCTS_RUST_REMOTE_CACHE": f"s3://{ARTIFACTS_BUCKET}/team",
            }
            sc_env = dict(aws, **self.sccache_env(moto.endpoint, "rust/"))
            scc = dict(sc_env, RUSTC_WRAPPER=str(SCCACHE))
            self.sccache("--stop-server", env=sc_env)
            subprocess.run([str(SCCACHE), "--start-server"], env=sc_env, check=True)
            try:
                r = self.results
                r.append(self.synth("empty", self.copy("empty1", bench.APP_EMPTY), aws, moto_log))
                r.append(self.floor(aws, moto_log))
                seed_root = self.copy("seed", bench.APP_CR)
                self.sccache("--zero-stats", env=sc_env)
                r.append(
                    self.synth(
                        "cold",
                        seed_root,
                        dict(scc, CONSTRUCTS_RUST_REMOTE_CACHE_MODE="read-write", **remote),
                        moto_log,
                    )
                )
                r[-1]["sccache"] = self.sccache_stats(sc_env)
                r[-1]["stored_artifacts"] = self.stored(s3, ARTIFACTS_BUCKET, "team/")
                r[-1]["stored_sccache"] = self.stored(s3, SCCACHE_BUCKET, "rust/")
                r.append(
                    self.synth(
                        "remote-warm",
                        self.copy("remote", bench.APP_CR),
                        dict(aws, CONSTRUCTS_RUST_REMOTE_CACHE_MODE="read", **remote),
                        moto_log,
                    )
                )
                restored = self.copy("remote-lib", bench.APP_CR)
                shutil.copytree(seed_root.parent / "cr-cache", restored.parent / "cr-cache")
                r.append(
                    self.synth(
                        "remote-warm+library-cache",
                        restored,
                        dict(aws, CONSTRUCTS_RUST_REMOTE_CACHE_MODE="read", **remote),
                        moto_log,
                    )
                )
                if not self.args.no_sccache:
                    self.sccache_scenarios(seed_root, scc, sc_env, moto_log)
                r.append(self.floor(aws, moto_log))
                r.append(self.synth("empty", self.copy("empty2", bench.APP_EMPTY), aws, moto_log))
            finally:
                self.sccache("--stop-server", env=sc_env)
        if not self.args.keep:
            shutil.rmtree(self.runs, ignore_errors=True)
        return self.results


def _client(endpoint: str):  # noqa: ANN202
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=deploy_local.REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def render(results: List[Dict], n: int, started: str, load: str) -> str:
    empty = statistics.median(r["time"] for r in results if r["scenario"] == "empty")
    floor = statistics.median(r["time"] for r in results if r["scenario"] == FLOOR)
    cold = next(r for r in results if r["scenario"] == "cold")
    lines = [
        f"N = {n} functions, each scenario a fresh copy at a new absolute path with empty local "
        f"caches; one run, {started} UTC; load average (1 min) at start / end: {load}.",
        "",
        "| scenario | time s | × empty synth | × bundling skipped | × cold | "
        "cargo / cargo-lambda calls | builds | artifact cache: hits, objects, bytes fetched | "
        "sccache: requests / hits / misses / not cached | S3 writes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        builds = sum(1 for c in r["calls"] if "build" in c)
        fetched = (
            f"{r['hits']}/{r['looked_up']}, {r['objects']}, {r['bytes']:,} "
            f"({r['transfer_s']:.2f} s)"
            if "hits" in r
            else "—"
        )
        sc = r.get("sccache")
        sccell = (
            f"{sc['requests']} / {sc['hits']} / {sc['misses']} / {sc['not_cached']}"
            + (f" ({sc['errors']} errors)" if sc["errors"] else "")
            if sc
            else "—"
        )
        lines.append(
            f"| {r['scenario']} | {r['time']:.2f} | {r['time'] / empty:.2f} | "
            f"{r['time'] / floor:.2f} | {r['time'] / cold['time']:.2f} | "
            f"{r['cargo']} / {r['cargo-lambda']} | {builds} | "
            f"{fetched} | {sccell} | {r['writes']} |"
        )
    seed = cold
    for warm in (r for r in results if r["scenario"].startswith("remote-warm")):
        lines += [
            "",
            f"**{warm['scenario']} / empty-app synth = {warm['time'] / empty:.2f}** "
            f"(goal ≤ 1.3); / the same app with bundling skipped = {warm['time'] / floor:.2f}; "
            f"/ cold = {warm['time'] / cold['time']:.3f}.",
        ]
    lines += [
        "",
        f"Stored after the cold run: artifacts {seed['stored_artifacts']['objects']} objects, "
        f"{seed['stored_artifacts']['bytes']:,} bytes; sccache {seed['stored_sccache']['objects']} "
        f"objects, {seed['stored_sccache']['bytes']:,} bytes. Medians of 2: empty-app synth "
        f"{empty:.2f} s; the same {n}-function app with bundling skipped {floor:.2f} s.",
        "",
        "Commands seen by the shims: "
        + "; ".join(f"{r['scenario']}: {', '.join(r['calls']) or 'none'}" for r in results),
    ]
    built = [r for r in results if r["scenario"] != FLOOR]  # the floor's hashes are stand-ins
    same = {r["scenario"]: r.get("hashes") for r in built if r.get("hashes")}
    if len({json.dumps(v) for v in same.values()}) == 1:
        lines.append("")
        lines.append(
            f"Asset hashes: identical in every scenario ({', '.join(same)}), paths notwithstanding."
        )
    boots = {r["scenario"]: r["bootstraps"] for r in built if r.get("bootstraps")}
    if len({json.dumps(v) for v in boots.values()}) == 1:
        lines += [
            "",
            f"Bootstraps: byte-identical in every scenario ({', '.join(boots)}): with or without "
            "sccache hits, downloaded or built.",
        ]
    else:
        lines += ["", "Bootstraps DIFFER between scenarios: " + json.dumps(boots)]
    warnings = [w for r in results for w in r["warnings"]]
    if warnings:
        lines += ["", "Warnings: " + " | ".join(warnings)]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--work", default="/tmp/constructs-rust-bench-remote")
    ap.add_argument("--sccache-port", type=int, default=4391)
    ap.add_argument("--out", default="-", help="also write the markdown here")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument(
        "--no-sccache",
        action="store_true",
        help="stop after the remote-warm scenarios (skip the two sccache builds)",
    )
    ap.add_argument(
        "--same-path",
        action="store_true",
        help="also run sccache-same-path (one more full build)",
    )
    args = ap.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    load0 = os.getloadavg()[0]
    results = Bench(args).main()
    text = render(results, args.n, started, f"{load0:.2f} / {os.getloadavg()[0]:.2f}")
    print(text)
    if args.out != "-":
        Path(args.out).write_text(text)
    Path(args.work, "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
