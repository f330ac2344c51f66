#!/usr/bin/env python3
"""P4: choose the release profile by measurement (build time vs bootstrap size vs init time).

Builds the example `echo` and `pi_digits` lambdas (x86_64) under several release profiles in a
temp copy of lambdas/ (own target dir per variant, so every build is cold), then measures:
  - cold build time of both binaries (one cargo-lambda run),
  - bootstrap sizes,
  - init time (process start → first /next poll) through cargo-lambda's emulator, median of N,
  - pi_digits(3000) invoke time (CPU-bound work), median of N.
Prints a markdown table and appends it to bench/RESULTS-profile.md.

    python bench/release_profile.py [--repeat 7] [--variants ours,cargo-lambda-default,...]
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from constructs_rust.testing import LambdaEmulator  # noqa: E402

# [profile.release] bodies; None = no section (cargo-lambda fills its own defaults).
VARIANTS = {
    "ours (o3, thin lto, cgu1, abort, strip)": 'opt-level = 3\nlto = "thin"\ncodegen-units = '
    '1\npanic = "abort"\nstrip = true\n',
    "cargo-lambda defaults (no section)": None,
    "size (o=s, fat lto, cgu1, abort, strip)": 'opt-level = "s"\nlto = "fat"\ncodegen-units = '
    '1\npanic = "abort"\nstrip = true\n',
    "fast build (o3, no lto, cgu16, strip)": "opt-level = 3\nlto = false\ncodegen-units = "
    "16\nstrip = true\n",
    "fat lto (o3, fat lto, cgu1, abort, strip)": 'opt-level = 3\nlto = "fat"\ncodegen-units = '
    '1\npanic = "abort"\nstrip = true\n',
}


def with_profile(manifest: str, body) -> str:
    manifest = re.sub(r"\n\[profile\.release\]\n(?:[^\[]*)", "\n", manifest)
    return manifest if body is None else manifest.rstrip() + "\n\n[profile.release]\n" + body


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS-profile.md"))
    args = parser.parse_args()
    cargo_lambda = shutil.which("cargo-lambda") or str(Path(sys.executable).parent / "cargo-lambda")
    env = dict(os.environ, PATH=f"{Path(cargo_lambda).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("RUSTC", None)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cr-profile-") as tmp, LambdaEmulator() as emulator:
        for name, body in VARIANTS.items():
            work = Path(tmp) / re.sub(r"\W+", "-", name)
            shutil.copytree(ROOT / "lambdas", work, ignore=shutil.ignore_patterns("target"))
            (work / "Cargo.toml").write_text(with_profile((work / "Cargo.toml").read_text(), body))
            out = work / "out"
            argv = [
                "cargo",
                "lambda",
                "build",
                "--release",
                "--x86-64",
                "--bin",
                "echo",
                "--bin",
                "pi_digits",
                "--lambda-dir",
                str(out),
                "--color",
                "never",
            ]
            started = time.monotonic()
            subprocess.run(
                argv,
                cwd=work,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            build_s = time.monotonic() - started
            echo, pi = out / "echo" / "bootstrap", out / "pi_digits" / "bootstrap"
            inits, pis = [], []
            for _ in range(args.repeat):
                inits.append(emulator.invoke(echo, {"message": "x"}).init_seconds)
                pis.append(emulator.invoke(pi, {"digits": 3000}, timeout=300).invoke_seconds)
            rows.append(
                (
                    name,
                    build_s,
                    echo.stat().st_size,
                    pi.stat().st_size,
                    statistics.median(inits) * 1000,
                    statistics.median(pis) * 1000,
                )
            )
            print(rows[-1], flush=True)
            shutil.rmtree(work / "target", ignore_errors=True)
    table = [
        "| release profile | cold build echo+pi_digits (s) | echo bootstrap (KiB) | pi_digits "
        "bootstrap (KiB) | echo init (ms, median) | pi_digits(3000) invoke (ms, median) |",
        "|---|---|---|---|---|---|",
    ]
    for name, build_s, es, ps, init_ms, pi_ms in rows:
        table.append(
            f"| {name} | {build_s:.0f} | {es / 1024:.0f} | {ps / 1024:.0f} | {init_ms:.1f} | "
            f"{pi_ms:.0f} |"
        )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ),
        "?",
    )
    text = "\n".join(table)
    print(text)
    with open(args.out, "w") as fh:
        fh.write(
            f"# Release profile measurements (P4)\n\n{datetime.date.today()} · {os.cpu_count()} "
            f"cores · {cpu} · "
            f"x86_64 native, invokes through cargo-lambda's emulator, {args.repeat} runs each\n\n"
            f"Command: `python bench/release_profile.py --repeat {args.repeat}`\n\n{text}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
