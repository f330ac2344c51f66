#!/usr/bin/env python3
"""Synth-time benchmark: constructs_rust vs cargo-lambda-cdk vs a raw `cargo lambda build`.

    python bench/run.py --sizes 1,5,20 --repeat 3            # the full run (see bench/README.md)
    python bench/run.py --sizes 1 --repeat 1 --out /tmp/r.md # a smoke run

For every size N it generates a realistic workspace (N lambda_runtime functions + one shared
lib crate every function path-depends on, one Cargo.lock) and measures, interleaved per
scenario (A B C, A B C, ...), each contender in its own fresh copy of the workspace with its
own target dir, cdk.out and caches:

  constructs_rust   RustFunction(stack, f"F{i}", manifest_path=<member>, architecture=X86_64)
  cargo_lambda_cdk  cargo-lambda-cdk (PyPI) RustFunction(..., binary_name=..., X86_64), local
                    bundling, run from its own venv (default /tmp/bench-venv-clc)
  baseline          `cargo lambda build --release --workspace --x86-64` + an empty app's synth

Scenarios, in this order in one copy: cold (fresh target dir, no cdk.out, empty caches), warm
(re-synth, nothing changed), warm after `rm -rf cdk.out`, touch-one (one member's handler
changed), and for constructs_rust also the bundling-skipped synth (the P2 reference, with an
existing and with a removed output dir) and touch-shared (the shared lib changed).

Issue #10 scenarios (constructs_rust and cargo_lambda_cdk): bump-one (`cargo update -p fnv
--precise ...`, a crate only the first function uses), dep-add (a new dependency in the second
member's manifest), dep-add-warm (the synth after that, nothing changed). `--no-lock` starts
every copy without a Cargo.lock (what `cargo new` gives), so cold/warm measure lockfile churn.
`--scenarios` restricts the timed scenarios (cold always runs first, to build); N = 100 is run
that way for warm / skip / bump-one. With CONSTRUCTS_RUST_TIMING=1 the library prints its own
time per synth, reported as ms per function.

Every synth is `python app.py` with CDK_OUTDIR set (or the pinned `cdk synth` CLI with
--synth cli), the same way for all contenders. cargo, cargo-lambda and docker are counted by
wrapper scripts put first on PATH; asset hashes are read from the template's S3Key.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import tomllib

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from deploy_local import node_major  # noqa: E402

MAIN_VENV = REPO / ".venv"
NODE_BIN = REPO / "node_modules" / ".bin"
CONTENDERS = ("constructs_rust", "cargo_lambda_cdk", "baseline")
SHORT = {"constructs_rust": "CR", "cargo_lambda_cdk": "CLC", "baseline": "BASE"}
STACK = "BenchStack"
SHIMMED = ("cargo", "cargo-lambda", "docker")
# Versions as in lambdas/Cargo.toml (the lock is seeded from lambdas/Cargo.lock when present).
DEFAULT_DEPS = {
    "lambda_runtime": '"1.5"',
    "tokio": '{ version = "1.54", default-features = false, features = ["macros"] }',
    "serde": '{ version = "1.0", features = ["derive"] }',
    "serde_json": '"1.0"',
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- environment


def which_outside(name: str, exclude: Path) -> str:
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != exclude
    )
    path = os.pathsep.join([str(MAIN_VENV / "bin"), str(NODE_BIN), path])
    found = shutil.which(name, path=path)
    if not found:
        raise SystemExit(f"bench: {name} not found on PATH")
    return found


def make_shims(shim_dir: Path) -> Dict[str, str]:
    """cargo / cargo-lambda / docker wrappers: log one line, then exec the real binary."""
    shim_dir.mkdir(parents=True, exist_ok=True)
    real = {}
    for name in SHIMMED:
        try:
            real[name] = which_outside(name, shim_dir)
        except SystemExit:
            if name != "docker":
                raise
            real[name] = ""
            continue
        script = (
            "#!/bin/sh\n"
            f'if [ -n "$BENCH_SHIM_LOG" ]; then printf "%s\\t%s\\t%s\\n" {name} '
            f'"${{BENCH_SHIM_DEPTH:-0}}" "$*" >> "$BENCH_SHIM_LOG"; fi\n'
            "BENCH_SHIM_DEPTH=$(( ${BENCH_SHIM_DEPTH:-0} + 1 )); export BENCH_SHIM_DEPTH\n"
            f'exec {shlex.quote(real[name])} "$@"\n'
        )
        path = shim_dir / name
        path.write_text(script)
        path.chmod(0o755)
    return real


def base_env(work: Path) -> Dict[str, str]:
    env = dict(os.environ)
    for var in (
        "RUSTC",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CDK_OUTDIR",
        "CDK_CONTEXT_JSON",
        "BENCH_SKIP_BUNDLING",
        "BENCH_SHIM_LOG",
        "BENCH_SHIM_DEPTH",
        "VIRTUAL_ENV",
    ):
        env.pop(var, None)
    shim = work / "shims"
    rest = [p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p) != shim]
    env["PATH"] = os.pathsep.join([str(shim), str(MAIN_VENV / "bin"), str(NODE_BIN), *rest])
    env["CARGO_HOME"] = str(work / "cargo-home")
    env["CARGO_TERM_COLOR"] = "never"
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = node_major()
    env["JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION"] = "1"
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_checked(argv: List[str], *, cwd: Path, env: Dict[str, str], what: str) -> str:
    proc = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"bench: {what} failed "
            f"({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc.stdout


def ensure_clc_venv(venv: Path, env: Dict[str, str]) -> Path:
    """A separate venv with cargo-lambda-cdk and the same aws-cdk-lib as the project's venv."""
    python = venv / "bin" / "python"
    if (
        python.exists()
        and subprocess.run(
            [str(python), "-c", "import cargo_lambda_cdk"], capture_output=True
        ).returncode
        == 0
    ):
        return python
    main_python = MAIN_VENV / "bin" / "python"
    versions = json.loads(
        run_checked(
            [
                str(main_python),
                "-c",
                "import json, importlib.metadata as m; "
                "print(json.dumps({p: m.version(p) for p in ('aws-cdk-lib', 'constructs')}))",
            ],
            cwd=REPO,
            env=env,
            what="reading aws-cdk-lib version",
        )
    )
    log(f"creating {venv} (cargo-lambda-cdk, aws-cdk-lib=={versions['aws-cdk-lib']})")
    base_python = run_checked(
        [str(main_python), "-c", "import sys; print(sys._base_executable)"],
        cwd=REPO,
        env=env,
        what="base python",
    ).strip()
    run_checked([base_python, "-m", "venv", str(venv)], cwd=REPO, env=env, what="venv")
    run_checked(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "cargo-lambda-cdk",
            f"aws-cdk-lib=={versions['aws-cdk-lib']}",
            f"constructs=={versions['constructs']}",
        ],
        cwd=REPO,
        env=env,
        what="pip install cargo-lambda-cdk",
    )
    return python


# ---------------------------------------------------------------- workspace


def release_profile() -> str:
    try:
        profile = tomllib.loads((REPO / "lambdas" / "Cargo.toml").read_text())["profile"]["release"]
    except (OSError, KeyError):
        profile = {
            "opt-level": 3,
            "lto": "thin",
            "codegen-units": 1,
            "panic": "abort",
            "strip": True,
        }
    return "".join(
        f"{k} = {json.dumps(v) if not isinstance(v, bool) else str(v).lower()}\n"
        for k, v in profile.items()
    )


SHARED_LIB = """\
//! Shared helpers used by every function of the benchmark workspace.
use serde::Serialize;

/// Bumped by the benchmark's touch-shared scenario.
pub const SHARED_REVISION: u32 = 0;

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct TextStats {
    pub words: usize,
    pub longest: String,
    pub checksum: u32,
    pub shared_revision: u32,
}

/// FNV-1a over the bytes.
pub fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

pub fn text_stats(text: &str) -> TextStats {
    let longest = text.split_whitespace().max_by_key(|w| w.len()).unwrap_or_default().to_string();
    TextStats {
        words: text.split_whitespace().count(),
        longest,
        checksum: checksum(text.as_bytes()),
        shared_revision: SHARED_REVISION,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stats() {
        let s = super::text_stats("a bb ccc");
        assert_eq!((s.words, s.longest.as_str()), (3, "ccc"));
    }
}
"""

MEMBER_MAIN = """\
//! Benchmark function {name}: text statistics over the event's "text" field.
use lambda_runtime::{{run, service_fn, Error, LambdaEvent}};
use serde_json::{{json, Value}};

/// Bumped by the benchmark's touch-one scenario.
const REVISION: u32 = 0;
const SALT: u32 = {salt};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {{
    let (payload, context) = event.into_parts();
    let text = payload.get("text").and_then(Value::as_str).unwrap_or_default();
    let stats = shared::text_stats(text);
    Ok(json!({{
        "function": "{name}",
        "revision": REVISION,
        "request_id": context.request_id,
        "stats": stats,
        "tag": stats.checksum ^ SALT,
    }}))
}}

#[tokio::main]
async fn main() -> Result<(), Error> {{
    run(service_fn(handler)).await
}}
"""

MEMBER_TOML = """\
[package]
name = "{name}"
version.workspace = true
edition.workspace = true
publish.workspace = true

[dependencies]
shared.workspace = true
lambda_runtime.workspace = true
serde_json.workspace = true
tokio.workspace = true
"""


#: A dependency only the first function uses (bump-one) and the one dep-add gives the second.
ONLY_FIRST = ("fnv", "1.0.7", "1.0.6")
ADDED_DEP = 'hex = { version = "0.4", default-features = false }'


def members(n: int) -> List[str]:
    return [f"fn{i:02d}" for i in range(1, n + 1)]


def generate_workspace(root: Path, n: int, env: Dict[str, str]) -> None:
    if root.exists():
        shutil.rmtree(root)
    names = members(n)
    deps = "".join(f"{k} = {v}\n" for k, v in DEFAULT_DEPS.items())
    (root / "shared" / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\n'
        f"members = [{', '.join(json.dumps(m) for m in ['shared', *names])}]\n\n"
        '[workspace.package]\nversion = "0.1.0"\nedition = "2021"\npublish = false\n\n'
        f'[workspace.dependencies]\nshared = {{ path = "shared" }}\n{deps}\n'
        f"[profile.release]\n{release_profile()}"
    )
    (root / "shared" / "Cargo.toml").write_text(
        '[package]\nname = "shared"\nversion.workspace = true\nedition.workspace = '
        "true\npublish.workspace = true\n\n"
        "[dependencies]\nserde.workspace = true\n"
    )
    (root / "shared" / "src" / "lib.rs").write_text(SHARED_LIB)
    for i, name in enumerate(names, 1):
        (root / name / "src").mkdir(parents=True)
        extra = f'{ONLY_FIRST[0]} = "1"\n' if i == 1 else ""
        (root / name / "Cargo.toml").write_text(MEMBER_TOML.format(name=name) + extra)
        (root / name / "src" / "main.rs").write_text(MEMBER_MAIN.format(name=name, salt=i * 7919))
    # Committed-style lock: seeded from the project's lock so the versions match it, then
    # completed by cargo (only the new workspace members get added; registry deps stay put).
    seed = REPO / "lambdas" / "Cargo.lock"
    if seed.is_file():
        shutil.copy2(seed, root / "Cargo.lock")
        run_checked(
            ["cargo", "update", "--workspace"], cwd=root, env=env, what="cargo update --workspace"
        )
    else:
        run_checked(
            ["cargo", "generate-lockfile"], cwd=root, env=env, what="cargo generate-lockfile"
        )
    run_checked(
        ["cargo", "update", "-p", ONLY_FIRST[0], "--precise", ONLY_FIRST[1]],
        cwd=root,
        env=env,
        what="pin the bump-one crate",
    )
    run_checked(["cargo", "fetch"], cwd=root, env=env, what="cargo fetch")
    # the dep-add crate, downloaded now so that the timed scenario does not measure a download
    probe = root.parent / f"{root.name}-probe"
    shutil.rmtree(probe, ignore_errors=True)
    (probe / "src").mkdir(parents=True)
    (probe / "src" / "lib.rs").write_text("")
    (probe / "Cargo.toml").write_text(
        '[package]\nname = "probe"\nversion = "0.0.0"\n\n'
        f"[dependencies]\n{ADDED_DEP}\n\n[workspace]\n"
    )
    run_checked(["cargo", "fetch"], cwd=probe, env=env, what="cargo fetch (dep-add crate)")
    shutil.rmtree(probe, ignore_errors=True)


APP_CR = """\
import os
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs_rust import RustFunction

ROOT = os.path.dirname(os.path.abspath(__file__))
app = cdk.App()
if os.environ.get("BENCH_SKIP_BUNDLING"):  # what `cdk synth -e OtherStack` does for this stack
    app.node.set_context("aws:cdk:bundling-stacks", [])
stack = cdk.Stack(app, "{stack}")
for i, member in enumerate({members!r}, 1):
    RustFunction(stack, f"F{{i}}", manifest_path=os.path.join(ROOT, member),
                 architecture=lambda_.Architecture.X86_64)
app.synth()
"""

APP_CLC = """\
import os
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from cargo_lambda_cdk import RustFunction

ROOT = os.path.dirname(os.path.abspath(__file__))
app = cdk.App()
if os.environ.get("BENCH_SKIP_BUNDLING"):  # what `cdk synth -e OtherStack` does for this stack
    app.node.set_context("aws:cdk:bundling-stacks", [])
stack = cdk.Stack(app, "{stack}")
for i, member in enumerate({members!r}, 1):
    RustFunction(stack, f"F{{i}}", manifest_path=os.path.join(ROOT, member), binary_name=member,
                 architecture=lambda_.Architecture.X86_64)
app.synth()
"""

APP_EMPTY = """\
import os
import aws_cdk as cdk

app = cdk.App()
if os.environ.get("BENCH_SKIP_BUNDLING"):
    app.node.set_context("aws:cdk:bundling-stacks", [])
cdk.Stack(app, "{stack}")
app.synth()
"""


# ---------------------------------------------------------------- one contender's copy


class Copy:
    """One contender's fresh copy of a template workspace (own target dir, cdk.out, caches)."""

    def __init__(
        self,
        contender: str,
        template: Path,
        dest: Path,
        n: int,
        args,
        pythons: Dict[str, Path],
        env: Dict[str, str],
    ):
        self.contender, self.n, self.args = contender, n, args
        if dest.exists():
            shutil.rmtree(dest)
        ignored = ["target", "cdk.out*"] + (["Cargo.lock"] if args.no_lock else [])
        shutil.copytree(template, dest, ignore=shutil.ignore_patterns(*ignored))
        self.root = dest
        self.bumped = False
        self.cache = dest.parent / f"{dest.name}-cr-cache"
        shutil.rmtree(self.cache, ignore_errors=True)
        self.logs = dest.parent / f"{dest.name}-logs"
        shutil.rmtree(self.logs, ignore_errors=True)
        self.logs.mkdir(parents=True)
        self.python = pythons["clc" if contender == "cargo_lambda_cdk" else "main"]
        app = {"constructs_rust": APP_CR, "cargo_lambda_cdk": APP_CLC, "baseline": APP_EMPTY}[
            contender
        ]
        (dest / "app.py").write_text(app.format(stack=STACK, members=members(n)))
        (dest / "cdk.json").write_text(
            json.dumps({"app": f"{self.python} app.py", "output": "cdk.out"})
        )
        self.env = dict(env)
        self.env["CONSTRUCTS_RUST_CACHE_DIR"] = str(self.cache)
        self.env["CONSTRUCTS_RUST_TIMING"] = "1"
        if contender == "constructs_rust":
            # the library from this checkout, whether or not the venv has it installed
            self.env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(REPO), env.get("PYTHONPATH", "")])
            )
        self.touch_rev = 0
        self.shared_rev = 0

    def outdir(self, skip: bool) -> Path:
        return self.root / ("cdk.out-skip" if skip else "cdk.out")

    def _run(self, argv: List[str], env: Dict[str, str], tag: str) -> float:
        logfile = self.logs / f"{tag}.log"
        with open(logfile, "a") as fh:
            fh.write(f"$ {' '.join(argv)}\n")
            fh.flush()
            t0 = time.perf_counter()
            proc = subprocess.run(
                argv,
                cwd=self.root,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            tail = logfile.read_text()[-4000:]
            raise RuntimeError(
                f"{self.contender} {tag}: {argv[:4]} exited {proc.returncode}\n{tail}"
            )
        return elapsed

    def synth(self, tag: str, shim_log: Path, skip: bool = False) -> float:
        env = dict(self.env, BENCH_SHIM_LOG=str(shim_log))
        if skip:
            # The CLI refuses `-c aws:...` and overwrites CDK_CONTEXT_JSON, so the app sets the
            # context itself (app.node.set_context before any stack exists), in both modes.
            env["BENCH_SKIP_BUNDLING"] = "1"
        if self.args.synth == "cli":
            argv = ["cdk", "synth", "--quiet", "--output", str(self.outdir(skip))]
        else:
            argv = [str(self.python), "app.py"]
            env["CDK_OUTDIR"] = str(self.outdir(skip))
        self.outdir(skip).mkdir(exist_ok=True)
        return self._run(argv, env, tag)

    def library_ms(self, tag: str) -> Optional[float]:
        """The library's own time in the last synth (CONSTRUCTS_RUST_TIMING line), if any."""
        logfile = self.logs / f"{tag}.log"
        found = (
            re.findall(r"constructs_rust: timing: ([0-9.]+) ms", logfile.read_text())
            if logfile.is_file()
            else []
        )
        return float(found[-1]) if found else None

    def cargo_build(self, tag: str, shim_log: Path) -> float:
        env = dict(self.env, BENCH_SHIM_LOG=str(shim_log))
        return self._run(
            ["cargo", "lambda", "build", "--release", "--workspace", "--x86-64"], env, tag
        )

    def hashes(self) -> Dict[str, str]:
        """construct id (F1..) -> asset hash, from the template's S3Key."""
        template = self.outdir(False) / f"{STACK}.template.json"
        if not template.is_file():
            return {}
        out = {}
        for logical_id, res in json.loads(template.read_text()).get("Resources", {}).items():
            if res.get("Type") != "AWS::Lambda::Function":
                continue
            # logical id = construct id + 8 hex digits of path hash (F1EAD92DBE -> F1)
            name = re.sub(r"[0-9A-F]{8}$", "", logical_id)
            key = res.get("Properties", {}).get("Code", {}).get("S3Key")
            if isinstance(key, str):
                out[name] = key.split(".")[0]
        return out

    def touch_one(self) -> None:
        self.touch_rev += 1
        main = self.root / members(self.n)[0] / "src" / "main.rs"
        main.write_text(
            re.sub(
                r"const REVISION: u32 = \d+;",
                f"const REVISION: u32 = {self.touch_rev};",
                main.read_text(),
            )
        )

    def touch_shared(self) -> None:
        self.shared_rev += 1
        lib = self.root / "shared" / "src" / "lib.rs"
        lib.write_text(
            re.sub(
                r"SHARED_REVISION: u32 = \d+;",
                f"SHARED_REVISION: u32 = {self.shared_rev};",
                lib.read_text(),
            )
        )

    def bump_one(self) -> None:
        """`cargo update -p fnv --precise` to the other version: only the first function uses it."""
        self.bumped = not self.bumped
        version = ONLY_FIRST[2] if self.bumped else ONLY_FIRST[1]
        argv = ["cargo", "update", "-p", ONLY_FIRST[0], "--precise", version]
        env = dict(self.env)
        env.pop("BENCH_SHIM_LOG", None)
        self._run(argv, env, "bump-one-update")

    def dep_add(self) -> None:
        manifest = self.root / members(self.n)[min(1, self.n - 1)] / "Cargo.toml"
        text = manifest.read_text()
        if ADDED_DEP not in text:
            manifest.write_text(text + ADDED_DEP + "\n")

    def rm_cdk_out(self) -> None:
        shutil.rmtree(self.outdir(False), ignore_errors=True)

    def remove(self) -> None:
        for p in (self.root, self.cache, self.logs):
            shutil.rmtree(p, ignore_errors=True)


def command_kind(tool: str, args: str) -> str:
    """`cargo lambda build --release ...` -> `cargo lambda build`: the command without options."""
    words = []
    for word in args.split():
        if (
            word.startswith("-")
            and not (tool == "cargo-lambda" and word == "--version")
            and not (tool == "cargo" and word == "--version")
        ):
            break
        words.append(word)
    return " ".join([tool, *words[:2]])


def count_invocations(shim_log: Path) -> Dict:
    counts: Dict = {"cargo": 0, "cargo_all": 0, "cargo-lambda": 0, "docker": 0, "calls": []}
    if shim_log.is_file():
        for line in shim_log.read_text().splitlines():
            tool, depth, args = (line.split("\t", 2) + ["", ""])[:3]
            counts["calls"].append(("  " * int(depth or 0)) + command_kind(tool, args))
            if tool == "cargo":
                counts["cargo_all"] += 1
                if depth == "0":
                    counts["cargo"] += 1
            elif tool in counts:
                counts[tool] += 1
    return counts


# ---------------------------------------------------------------- scenarios


SCENARIOS = (
    "cold",
    "warm",
    "skip-rm",
    "skip",
    "warm-rm",
    "touch-one",
    "touch-shared",
    "bump-one",
    "dep-add",
    "dep-add-warm",
)


def scenario_plan(
    contenders: List[str], touch_shared: bool, only: Optional[List[str]] = None
) -> List[tuple]:
    """(scenario, contender) in run order: all contenders of one scenario back to back."""
    plan = []
    for scenario in SCENARIOS:
        if only and scenario != "cold" and scenario not in only:
            continue
        for c in contenders:
            if scenario in ("bump-one", "dep-add", "dep-add-warm") and c == "baseline":
                continue
            if scenario.startswith("skip") and c != "constructs_rust":
                continue
            if scenario == "touch-shared" and (c != "constructs_rust" or not touch_shared):
                continue
            plan.append((scenario, c))
    return plan


def run_scenario(copy: Copy, scenario: str, shim_log: Path) -> Dict:
    before = copy.hashes()
    if scenario == "warm-rm":
        copy.rm_cdk_out()
    elif scenario == "touch-one":
        copy.touch_one()
    elif scenario == "touch-shared":
        copy.touch_shared()
    elif scenario == "bump-one":
        copy.bump_one()
    elif scenario == "dep-add":
        copy.dep_add()
    elif scenario == "skip-rm":
        shutil.rmtree(copy.outdir(True), ignore_errors=True)
    shim_log.unlink(missing_ok=True)
    result: Dict = {"scenario": scenario}
    if copy.contender == "baseline":
        result["build"] = copy.cargo_build(scenario, shim_log)
        result["synth"] = copy.synth(scenario, shim_log)
        result["time"] = result["build"] + result["synth"]
    else:
        result["time"] = copy.synth(scenario, shim_log, skip=scenario.startswith("skip"))
    result.update(count_invocations(shim_log))
    own = copy.library_ms(scenario)
    if own is not None:
        result["library_ms"] = own
    if shim_log.is_file():
        with open(copy.logs / "shim.log", "a") as fh:
            fh.write(f"# {scenario}\n{shim_log.read_text()}")
    if copy.contender != "baseline" and not scenario.startswith("skip"):
        after = copy.hashes()
        result["functions"] = len(after)
        result["changed"] = (
            sorted(k for k in after if before.get(k) != after[k]) if scenario != "cold" else []
        )
        if len(after) != copy.n:
            raise RuntimeError(
                f"{copy.contender} {scenario}: {len(after)} functions in the template, expected "
                f"{copy.n}"
            )
    return result


# ---------------------------------------------------------------- report


def med(results: List[Dict], key: str) -> Optional[float]:
    vals = [r[key] for r in results if key in r]
    return statistics.median(vals) if vals else None


def fmt_s(v: Optional[float]) -> str:
    return "—" if v is None else f"{v:.2f}"


def fmt_n(v: Optional[float]) -> str:
    return "—" if v is None else (f"{v:g}")


def fmt_ratio(a: Optional[float], b: Optional[float]) -> str:
    return "—" if a is None or not b else f"{a / b:.3f}"


def changed_summary(results: List[Dict]) -> str:
    if not results or "changed" not in results[0]:
        return "—"
    counts = [len(r["changed"]) for r in results]
    names = sorted({x for r in results for x in r["changed"]})
    shown = ",".join(names) if len(names) <= 3 else f"{len(names)} fns"
    return f"{statistics.median(counts):g}/{results[0]['functions']}" + (
        f" ({shown})" if names else ""
    )


#: Report order: the scenarios as run, the bundling-skipped references last.
RENDER_ORDER = tuple(s for s in SCENARIOS if not s.startswith("skip")) + ("skip", "skip-rm")


def library_per_function(data: Dict, sizes: List[int]) -> str:
    """The library's own ms per function (CONSTRUCTS_RUST_TIMING), per N and scenario."""
    lines = [
        "| N | scenario | CR library ms (total) | CR library ms per function |",
        "|---|---|---|---|",
    ]
    for n in sizes:
        for scenario in RENDER_ORDER:
            rs = data.get(n, {}).get(scenario, {}).get("constructs_rust", [])
            ms = med(rs, "library_ms")
            if ms is not None:
                lines.append(f"| {n} | {scenario} | {ms:.0f} | {ms / n:.2f} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def render(data: Dict, sizes: List[int], contenders: List[str], repeat: int) -> str:
    """data[n][scenario][contender] = list of per-repetition results."""
    lines = []
    head = (
        "| N | scenario | "
        + " | ".join(
            f"{SHORT[c]} time s | {SHORT[c]} cargo / cargo-lambda / docker"
            + (" | " + SHORT[c] + " changed hashes" if c != "baseline" else "")
            for c in contenders
        )
        + " |"
    )
    lines.append(head)
    lines.append("|" + "---|" * (head.count("|") - 1))
    for n in sizes:
        for scenario in RENDER_ORDER:
            per = data.get(n, {}).get(scenario, {})
            if not per:
                continue
            cells = []
            for c in contenders:
                rs = per.get(c, [])
                t = med(rs, "time")
                if c == "baseline" and rs:
                    tcell = f"{fmt_s(t)} ({fmt_s(med(rs, 'build'))} + {fmt_s(med(rs, 'synth'))})"
                else:
                    tcell = fmt_s(t)
                inv = (
                    "—"
                    if not rs
                    else f"{fmt_n(med(rs, 'cargo'))} / {fmt_n(med(rs, 'cargo-lambda'))} / "
                    f"{fmt_n(med(rs, 'docker'))}"
                )
                cells += [tcell, inv]
                if c != "baseline":
                    cells.append(changed_summary(rs))
            lines.append(f"| {n} | {scenario} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)

    ratios = [
        "| N | P1 CR cold / (build + empty synth) | P2 CR warm / skip | P2 CR warm-rm / skip-rm "
        "| P2 cargo+cargo-lambda+docker (warm, warm-rm) | P3 CR touch-one: cargo / changed hashes "
        "| CR touch-shared changed | CLC cold / base | CLC warm / CR skip | CLC touch-one: cargo / "
        "changed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sizes:
        d = data.get(n, {})

        def g(s: str, c: str, k: str = "time", d: Dict = d) -> Optional[float]:
            return med(d.get(s, {}).get(c, []), k)

        cr = "constructs_rust"
        inv_warm = "—"
        if d.get("warm", {}).get(cr):
            inv_warm = " , ".join(
                fmt_n(sum(med(d[s][cr], k) or 0 for k in ("cargo_all", "cargo-lambda", "docker")))
                for s in ("warm", "warm-rm")
                if d.get(s, {}).get(cr)
            )
        touch = d.get("touch-one", {})
        ratios.append(
            f"| {n} | {fmt_ratio(g('cold', cr), g('cold', 'baseline'))} | "
            f"{fmt_ratio(g('warm', cr), g('skip', cr))} "
            f"| {fmt_ratio(g('warm-rm', cr), g('skip-rm', cr))} | {inv_warm} "
            f"| {fmt_n(g('touch-one', cr, 'cargo'))} / {changed_summary(touch.get(cr, []))} "
            f"| {changed_summary(d.get('touch-shared', {}).get(cr, []))} "
            f"| {fmt_ratio(g('cold', 'cargo_lambda_cdk'), g('cold', 'baseline'))} "
            f"| {fmt_ratio(g('warm', 'cargo_lambda_cdk'), g('skip', cr))} "
            f"| {fmt_n(g('touch-one', 'cargo_lambda_cdk', 'cargo'))} / "
            f"{changed_summary(touch.get('cargo_lambda_cdk', []))} |"
        )
    calls = [
        f"Commands the shims saw at N={max(data)} (last repetition; indented = started by the line "
        "above it, e.g. `cargo lambda` execs the `cargo-lambda` subcommand):",
        "",
        "| scenario | contender | commands |",
        "|---|---|---|",
    ]
    for scenario in RENDER_ORDER:
        for c in contenders:
            rs = data.get(max(data), {}).get(scenario, {}).get(c, [])
            if not rs:
                continue
            seen: Dict[str, int] = {}
            for call in rs[-1]["calls"]:
                seen[call] = seen.get(call, 0) + 1
            text = (
                "; ".join(
                    f"`{k.strip()}`"
                    + (" (nested)" if k.startswith(" ") else "")
                    + (f" ×{v}" if v > 1 else "")
                    for k, v in seen.items()
                )
                or "none"
            )
            calls.append(f"| {scenario} | {SHORT[c]} | {text} |")
    own = library_per_function(data, sizes)
    own = (
        f"\n\nThe library's own work per synth (CONSTRUCTS_RUST_TIMING=1):\n\n{own}" if own else ""
    )
    return table + "\n\n" + "\n".join(ratios) + own + "\n\n" + "\n".join(calls) + "\n"


def machine(env: Dict[str, str], pythons: Dict[str, Path]) -> List[str]:
    def out(argv: List[str]) -> str:
        try:
            p = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=REPO, timeout=120)
            return (
                (p.stdout or p.stderr).strip().splitlines()[0]
                if (p.stdout or p.stderr).strip()
                else "?"
            )
        except (OSError, subprocess.TimeoutExpired):
            return "?"

    cpu = "?"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    mem = "?"
    try:
        kb = int(
            next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal"))
        )
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    env = dict(env)
    env.pop("BENCH_SHIM_LOG", None)

    def pkg(py: Path, name: str) -> str:
        return out([str(py), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"])

    return [
        f"- nproc: {os.cpu_count()} ({out(['nproc'])} usable); CPU: {cpu}; RAM: {mem}; "
        f"{platform.system()} {platform.release()}; "
        f"load average at start: {os.getloadavg()[0]:.2f}",
        f"- {out(['rustc', '--version'])}; {out(['cargo', '--version'])}; "
        f"{out(['cargo', 'lambda', '--version'])}; "
        f"ziglang {pkg(pythons['main'], 'ziglang')}",
        f"- aws-cdk-lib {pkg(pythons['main'], 'aws-cdk-lib')} (project venv), "
        f"{pkg(pythons['clc'], 'aws-cdk-lib')} "
        f"(cargo-lambda-cdk venv); cargo-lambda-cdk {pkg(pythons['clc'], 'cargo-lambda-cdk')}; "
        f"CDK CLI {out(['cdk', '--version'])}; node {out(['node', '--version'])}; Python "
        f"{platform.python_version()}",
    ]


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="1,5,20", help="workspace sizes N (default 1,5,20)")
    ap.add_argument(
        "--repeat", type=int, default=3, help="repetitions R; medians are reported (default 3)"
    )
    ap.add_argument("--contenders", default=",".join(CONTENDERS))
    ap.add_argument(
        "--out", default=str(REPO / "bench" / "RESULTS.md"), help="markdown report ('-' for none)"
    )
    ap.add_argument(
        "--work", default="/tmp/constructs-rust-bench", help="scratch dir (cargo home, workspaces)"
    )
    ap.add_argument("--clc-venv", default="/tmp/bench-venv-clc", help="venv for cargo-lambda-cdk")
    ap.add_argument(
        "--synth",
        choices=("python", "cli"),
        default="python",
        help="how every app is synthesized: `python app.py` with CDK_OUTDIR (default) or `cdk "
        "synth`",
    )
    ap.add_argument(
        "--no-touch-shared",
        action="store_true",
        help="skip constructs_rust's touch-shared scenario",
    )
    ap.add_argument("--keep", action="store_true", help="keep the workspace copies (debugging)")
    ap.add_argument(
        "--no-lock", action="store_true", help="copies start without Cargo.lock (lockfile churn)"
    )
    ap.add_argument(
        "--scenarios",
        default="",
        help=f"comma-separated subset of {','.join(SCENARIOS)} (cold always runs first)",
    )
    ap.add_argument("--label", default="", help="a note printed above the table in the report")
    args = ap.parse_args()

    sizes = [int(s) for s in args.sizes.split(",") if s]
    contenders = [c for c in args.contenders.split(",") if c]
    for c in contenders:
        if c not in CONTENDERS:
            ap.error(f"unknown contender {c}; choose from {', '.join(CONTENDERS)}")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    real = make_shims(work / "shims")
    env = base_env(work)
    log(f"real binaries: {real}")
    pythons = {"main": MAIN_VENV / "bin" / "python"}
    pythons["clc"] = (
        ensure_clc_venv(Path(args.clc_venv), env)
        if "cargo_lambda_cdk" in contenders
        else pythons["main"]
    )
    command = "python bench/run.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    started = dt.datetime.now(dt.timezone.utc)
    desc = machine(env, pythons)

    data: Dict[int, Dict[str, Dict[str, List[Dict]]]] = {}

    def write_report(final: bool) -> str:
        report = render(data, [n for n in sizes if n in data], contenders, args.repeat)
        if args.out != "-":
            done = {
                n: max((len(v) for per in data[n].values() for v in per.values()), default=0)
                for n in data
            }
            status = (
                ""
                if final
                else (
                    "**PARTIAL — run still in progress** (repetitions done so far: "
                    + ", ".join(f"N={n}: {k}" for n, k in done.items())
                    + ")\n\n"
                )
            )
            now = dt.datetime.now(dt.timezone.utc)
            Path(args.out).write_text(
                "# Benchmark results\n\n"
                + status
                + (f"{args.label}\n\n" if args.label else "")
                + f"Produced by `{command}` (from the repository root), "
                f"{started:%Y-%m-%d %H:%M}–{now:%H:%M} UTC; "
                f"sizes N={','.join(map(str, sizes))}, R={args.repeat} repetitions, medians shown; "
                "every synth is "
                + (
                    "`python app.py` with CDK_OUTDIR set"
                    if args.synth == "python"
                    else "the pinned `cdk synth` CLI"
                )
                + ". See bench/README.md for what each scenario and column means.\n\n"
                "## Machine\n\n" + "\n".join(desc) + "\n\n## Results\n\n" + report
            )
        return report

    for n in sizes:
        template = work / "templates" / f"ws{n}"
        log(f"N={n}: generating the workspace template in {template}")
        generate_workspace(template, n, env)
        for r in range(1, args.repeat + 1):
            copies = {
                c: Copy(
                    c,
                    template,
                    work / "runs" / f"n{n}-r{r}-{SHORT[c]}" / "ws",
                    n,
                    args,
                    pythons,
                    env,
                )
                for c in contenders
            }
            try:
                only = [x for x in args.scenarios.split(",") if x] or None
                for scenario, c in scenario_plan(contenders, not args.no_touch_shared, only):
                    shim_log = work / "runs" / "shim.log"
                    res = run_scenario(copies[c], scenario, shim_log)
                    data.setdefault(n, {}).setdefault(scenario, {}).setdefault(c, []).append(res)
                    extra = f" changed={res['changed']}" if res.get("changed") else ""
                    log(
                        f"N={n} rep {r}/{args.repeat} {scenario:12s} {c:16s} {res['time']:8.2f}s  "
                        f"cargo={res['cargo']} (all {res['cargo_all']}) "
                        f"cargo-lambda={res['cargo-lambda']} "
                        f"docker={res['docker']}{extra}"
                    )
            finally:
                if not args.keep:
                    for cp in copies.values():
                        cp.remove()
                    shutil.rmtree(work / "runs", ignore_errors=True)
            write_report(final=False)
        if not args.keep:
            shutil.rmtree(template, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(
            work / "templates", ignore_errors=True
        )  # the cargo home and shims stay for the next run
    print(write_report(final=True))
    if args.out != "-":
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
