#!/usr/bin/env python3
"""glibc vs musl × x86_64 vs arm64 × zip vs image for the pi_digits example (issue 22).

For each variant the binary is built through the library, as a user's synth builds it
(RustFunction / RustDockerImageFunction, local cargo-lambda + zig), then measured locally:

- binary size, zip size (the bootstrap alone, deflate level 9, as a Lambda zip), image size
  (``docker image inspect``: the al2023 stand-in of tests/docker, or FROM scratch);
- start-up: process start (exec, or ``docker run``) → the runtime's first ``/next`` request,
  through the runtime API emulator (``cargo lambda watch --only-lambda-apis``);
- compute: event sent → response received for ``{"digits": DIGITS}`` in that process.

arm64 runs under qemu-user on an x86_64 host (absolute numbers are qemu's, not Graviton's).
Images run on the private engine of tests/docker (needs root and dockerd; skipped otherwise).
musl + mimalloc: a copy of the workspace whose pi_digits sets mimalloc as the global
allocator (the example itself keeps the default allocator).

    python bench/static_musl.py --repeat 5            # writes bench/RESULTS-static-musl.md + PNG

Run it under the shared lock on a shared machine: ``flock /tmp/heavy.lock python bench/...``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402

from constructs_rust import SCRATCH, BundlingOptions, Libc, RustFunction  # noqa: E402
from constructs_rust.container import RustDockerImageFunction, prebuilt_bootstrap_path  # noqa: E402
from constructs_rust.testing import LambdaEmulator, bootstrap_path  # noqa: E402
from constructs_rust.testing.bootstrap import FirstRequestRelay  # noqa: E402

ARCHES = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}
WORK = Path("/tmp/constructs-rust-bench-musl")
#: What Lambda sets for every runtime (lambda_runtime reads them at start-up).
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "_",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/_",
    "AWS_LAMBDA_LOG_STREAM_NAME": "local",
    "AWS_REGION": "us-east-1",
    "RUST_LOG": "warn",
}


@dataclass
class Row:
    libc: str
    arch: str
    package: str  # "zip" or the image base
    binary: int = 0
    zipped: Optional[int] = None
    image: Optional[int] = None
    startup: List[float] = field(default_factory=list)
    compute: List[float] = field(default_factory=list)
    note: str = ""

    @property
    def label(self) -> str:
        return f"{self.libc} {self.arch} {self.package}"


def _zip_size(path: Path, dest: Path) -> int:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    return dest.stat().st_size


def _with_mimalloc(work: Path) -> Path:
    """A copy of lambdas/ whose pi_digits uses mimalloc (feature ``mimalloc``)."""
    copy = work / "lambdas-mimalloc"
    # Sources refreshed from lambdas/, the copy's own target/ kept (its builds are reused).
    shutil.copytree(
        ROOT / "lambdas", copy, ignore=shutil.ignore_patterns("target"), dirs_exist_ok=True
    )
    manifest = copy / "pi_digits" / "Cargo.toml"
    text = (ROOT / "lambdas" / "pi_digits" / "Cargo.toml").read_text()
    text = text.replace(
        "[dependencies]\n",
        '[features]\nmimalloc = ["dep:mimalloc"]\n\n[dependencies]\n'
        'mimalloc = { version = "0.1", optional = true, default-features = false }\n',
    )
    manifest.write_text(text)
    main = copy / "pi_digits" / "src" / "main.rs"
    main.write_text(
        (ROOT / "lambdas" / "pi_digits" / "src" / "main.rs").read_text()
        + '\n#[cfg(feature = "mimalloc")]\n#[global_allocator]\n'
        "static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n"
    )
    # Resolve and download mimalloc once (the library's graph queries run offline).
    subprocess.run(["cargo", "fetch", "--manifest-path", str(copy / "Cargo.toml")], check=True)
    return copy


def build(work: Path, standin_bases: Dict[str, str], images: bool) -> Dict[str, object]:
    """Synthesize every variant; returns label → construct."""
    app = cdk.App(outdir=str(work / "cdk.out"))
    stack = cdk.Stack(app, "Bench")
    lambdas = str(ROOT / "lambdas")
    mimalloc = str(_with_mimalloc(work))
    out: Dict[str, object] = {}
    for arch, a in ARCHES.items():
        for libc in (Libc.GLIBC, Libc.MUSL):
            out[f"{libc.value} {arch} zip"] = RustFunction(
                stack,
                f"Zip{libc.value}{arch}",
                manifest_path=lambdas,
                binary_name="pi_digits",
                architecture=a,
                bundling=BundlingOptions(libc=libc),
            )
        out[f"musl+mimalloc {arch} zip"] = RustFunction(
            stack,
            f"ZipMimalloc{arch}",
            manifest_path=mimalloc,
            binary_name="pi_digits",
            architecture=a,
            bundling=BundlingOptions(libc=Libc.MUSL, features=["mimalloc"]),
        )
        if images:
            deb = "arm64" if arch == "arm64" else "amd64"
            out[f"glibc {arch} al2023-standin"] = RustDockerImageFunction(
                stack,
                f"ImgGlibc{arch}",
                manifest_path=lambdas,
                binary_name="pi_digits",
                architecture=a,
                base_image=standin_bases[deb],
            )
            out[f"musl {arch} scratch"] = RustDockerImageFunction(
                stack,
                f"ImgScratch{arch}",
                manifest_path=lambdas,
                binary_name="pi_digits",
                architecture=a,
                base_image=SCRATCH,
                bundling=BundlingOptions(libc=Libc.MUSL),
            )
    started = time.monotonic()
    assembly = Path(app.synth().directory)
    print(f"[bench] synth (builds) {time.monotonic() - started:.0f} s", file=sys.stderr)
    out["_assembly"] = assembly
    return out


def run_image(engine, emulator, tag: str, platform_: str, digits: int) -> tuple:
    """docker run → first /next (through a relay), then one invoke; the container removed."""
    from tests.docker.engine import docker_cli

    relay = FirstRequestRelay(emulator.port)
    name = f"bench-{uuid.uuid4().hex[:10]}"
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            docker_cli(),
            "run",
            "--rm",
            "--name",
            name,
            "--network",
            "host",
            "--platform",
            platform_,
            "--env",
            f"AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:{relay.port}/.rt",
            *(arg for name, value in LAMBDA_ENV.items() for arg in ("--env", f"{name}={value}")),
            tag,
        ],
        env=engine.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        while relay.first_request_at is None:
            if proc.poll() is not None:
                output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"{tag} exited with {proc.returncode}:\n{output}")
            if time.monotonic() - started > 120:
                raise TimeoutError(f"{tag} never asked for an event")
            time.sleep(0.002)
        init = relay.first_request_at - started
        sent = time.monotonic()
        raw = emulator._post(json.dumps({"digits": digits}).encode(), timeout=600)
        compute = time.monotonic() - sent
        assert json.loads(raw)["digits"] == digits, raw
    finally:
        engine.docker("rm", "--force", name, check=False)
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
        relay.close()
    return init, compute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--digits", type=int, default=3000)
    parser.add_argument("--no-images", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS-static-musl.md"))
    parser.add_argument("--plot", default=str(ROOT / "bench" / "static_musl.png"))
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CONSTRUCTS_RUST_CACHE_DIR", str(WORK / "library-cache"))

    engine = binfmt = None
    standin_bases: Dict[str, str] = {}
    images = not args.no_images
    if images:
        from tests.docker.engine import (
            EngineUnavailable,
            ensure_arm64_binfmt,
            ensure_standins,
            start_engine,
        )

        try:
            engine = start_engine()
            os.environ["DOCKER_HOST"] = engine.host
            standin_bases = ensure_standins(engine).provided
            binfmt = ensure_arm64_binfmt()
        except EngineUnavailable as exc:
            print(f"[bench] no images: {exc}", file=sys.stderr)
            images = False
    try:
        built = build(WORK, standin_bases, images)
        assembly = built.pop("_assembly")
        rows: List[Row] = []
        with LambdaEmulator() as emulator:
            for label, fn in built.items():
                libc, arch, package = label.split(" ")
                row = Row(libc=libc, arch=arch, package=package)
                if isinstance(fn, RustDockerImageFunction):
                    bootstrap = prebuilt_bootstrap_path(fn)
                else:
                    bootstrap = bootstrap_path(fn)  # type: ignore[arg-type]
                row.binary = bootstrap.stat().st_size
                if package == "zip":
                    row.zipped = _zip_size(bootstrap, WORK / f"{uuid.uuid4().hex}.zip")
                    for _ in range(args.repeat):
                        (result,) = emulator.invoke_many(
                            bootstrap,
                            [{"digits": args.digits}],
                            architecture=arch,
                            timeout=600,
                            environment={"RUST_LOG": "warn"},
                        )
                        assert result.payload["digits"] == args.digits, result.raw
                        row.startup.append(result.init_seconds)
                        row.compute.append(result.invoke_seconds)
                else:
                    assert engine is not None
                    from tests.docker.test_container_images import _docker_build

                    entries = json.loads((assembly / "Bench.assets.json").read_text())
                    source = next(
                        e["source"]
                        for e in entries["dockerImages"].values()
                        if e["source"]["directory"] == fn.staged_context.name  # type: ignore[attr-defined]
                    )
                    tag = f"bench/{libc}-{arch}-{package}:{uuid.uuid4().hex[:8]}"
                    _docker_build(engine, assembly, source, tag)
                    row.image = engine.image_size(tag)
                    if arch == "arm64" and binfmt is not None and binfmt.problem:
                        row.note = f"not run: {binfmt.problem}"
                    else:
                        for _ in range(args.repeat):
                            init, compute = run_image(
                                engine, emulator, tag, source["platform"], args.digits
                            )
                            row.startup.append(init)
                            row.compute.append(compute)
                    engine.docker("rmi", "--force", tag, check=False)
                rows.append(row)
                print(f"[bench] {row.label}: {row}", file=sys.stderr)
    finally:
        if binfmt is not None:
            binfmt.undo()
        if engine is not None:
            engine.stop()
    write_report(rows, args)
    plot(rows, args)


def _med(values: List[float], scale: float = 1000.0) -> str:
    return f"{statistics.median(values) * scale:.1f}" if values else "—"


def _mb(value: Optional[int]) -> str:
    return f"{value / 1e6:.2f}" if value is not None else "—"


def write_report(rows: List[Row], args: argparse.Namespace) -> None:
    rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# Static musl binaries and FROM-scratch images: the pi_digits comparison (issue 22)",
        "",
        f"Produced by `python bench/static_musl.py --repeat {args.repeat} --digits {args.digits}`"
        f" on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {os.cpu_count()} cores, "
        f"{platform.machine()}, {rustc}, SHARED machine (taken under /tmp/heavy.lock, other "
        f"engineers' light work running). Medians of {args.repeat} runs; each run is a new "
        "process (zip) or a new container (image), i.e. a local cold start.",
        "",
        "arm64 runs under **qemu-user** on this x86_64 host: its times are qemu's, not "
        "Graviton's (only the x86_64 columns compare libc and packaging on real hardware).",
        "Images: `al2023-standin` is the Debian-based stand-in of provided:al2023 from "
        "tests/docker (Debian bookworm minbase; the real provided:al2023 cannot be pulled "
        "here, so its size is not measured), `scratch` is "
        "the real FROM-scratch image the library generates.",
        "",
        "| libc | arch | package | binary MB | zip MB | image MB | start-up ms | "
        f"{args.digits} digits ms | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.libc} | {r.arch} | {r.package} | {_mb(r.binary)} | {_mb(r.zipped)} | "
            f"{_mb(r.image)} | {_med(r.startup)} | {_med(r.compute)} | {r.note} |"
        )
    lines += [
        "",
        f"Plot: [{Path(args.plot).name}]({Path(args.plot).name}).",
        "",
        "Raw samples (seconds):",
        "",
        "```",
        *(
            f"{r.label}: startup={[round(s, 4) for s in r.startup]} "
            f"compute={[round(s, 4) for s in r.compute]}"
            for r in rows
        ),
        "```",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


def plot(rows: List[Row], args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 5.5))
    labels = [r.label.replace(" ", "\n", 1) for r in rows]
    colors = [
        "#4c72b0" if r.libc == "glibc" else "#dd8452" if r.libc == "musl" else "#55a868"
        for r in rows
    ]
    for ax, (title, values) in zip(
        axes,
        [
            (
                "start-up ms (exec/docker run → first /next)",
                [statistics.median(r.startup) * 1000 if r.startup else 0 for r in rows],
            ),
            (
                f"{args.digits} digits ms",
                [statistics.median(r.compute) * 1000 if r.compute else 0 for r in rows],
            ),
            (
                "size MB (zip, or image)",
                [(r.zipped if r.zipped is not None else r.image or 0) / 1e6 for r in rows],
            ),
        ],
        strict=True,
    ):
        ax.barh(range(len(rows)), values, color=colors)
        ax.set_yticks(range(len(rows)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=9)
        ax.set_xscale("log")
    fig.suptitle(
        "pi_digits: glibc (blue) vs musl (orange) vs musl+mimalloc (green); arm64 under qemu; "
        "shared 2-core machine",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(args.plot, dpi=110)


if __name__ == "__main__":
    main()
