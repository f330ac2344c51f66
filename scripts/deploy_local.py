#!/usr/bin/env python3
"""Deploy the example stacks to a local AWS emulator (moto server): no AWS account, no Docker.

    python scripts/deploy_local.py                    # all stacks of app.py
    python scripts/deploy_local.py EchoStack PiStack  # only these
    python scripts/deploy_local.py --destroy          # deploy, print outputs, then destroy

Starts ``moto_server`` on a free port of 127.0.0.1, bootstraps aws://123456789012/us-east-1,
deploys with the pinned CDK CLI (node_modules/.bin/cdk), prints the stack outputs and stops the
emulator by its own PID on success, failure, Ctrl-C or SIGTERM. The emulator's state is
in-memory: nothing survives the run. The CLI flags moto needs are in scripts/moto_gaps.py.

Also importable (tests/deploy/ use it): ``MotoServer``, ``local_aws_env``, ``run_cdk``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import moto_gaps  # noqa: E402  (sibling module)

ACCOUNT = "123456789012"  # moto's fixed default account
REGION = "us-east-1"
#: The stacks deployed by default. Not ContainerStack nor StaticPiStack: their image assets
#: need a Docker engine to build and push (pass them explicitly if you have one). Not
#: ManagedInstancesStack: moto has no AWS::Lambda::CapacityProvider, so CreateStack rejects the
#: function's Fn::GetAtt of it (moto_gaps.py CAPACITY_PROVIDER_UNMODELLED).
EXAMPLE_STACKS = [
    "HelloHttpStack",
    "EchoStack",
    "PiStack",
    "MultiFunctionStack",
    "BuildCacheStack",
    "ExtensionStack",
    "StreamingStack",
]


def _bin(name: str) -> str:
    """A tool from the project's venv or node_modules, else from PATH."""
    for candidate in (ROOT / ".venv" / "bin" / name, ROOT / "node_modules" / ".bin" / name):
        if candidate.exists():
            return str(candidate)
    return name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """``moto_server`` bound to 127.0.0.1 only; stopped by its own PID however we leave.

    Use as a context manager. ``endpoint`` uses ``localhost`` on purpose: with ``127.0.0.1``
    in the URL moto misreads the S3 template URL CloudFormation gets ("The specified bucket
    does not exist").
    """

    def __init__(
        self,
        port: Optional[int] = None,
        log_path: Optional[Path] = None,
        startup_timeout: float = 60,
    ) -> None:
        self.port = port or free_port()
        self.endpoint = f"http://localhost:{self.port}"
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.proc: Optional[subprocess.Popen] = None
        self._log = None
        self._previous_handlers: Dict[int, object] = {}

    def start(self) -> "MotoServer":
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="moto-server-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [_bin("moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal reaches us, not it: we stop it
        )
        self._install_signal_handlers()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(
                    f"moto_server exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/moto-api/reset", data=b"", timeout=2
                ):
                    return self
            except OSError as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(
                        f"moto_server did not answer on 127.0.0.1:{self.port} "
                        f"within {self.startup_timeout}s"
                    ) from exc
                time.sleep(0.2)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # its own PID only
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        self._restore_signal_handlers()

    def _install_signal_handlers(self) -> None:
        """SIGTERM/SIGHUP become SystemExit so ``finally``/``__exit__`` stop the server."""

        def handler(signum, frame):  # noqa: ANN001
            raise SystemExit(128 + signum)

        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                self._previous_handlers[sig] = signal.signal(sig, handler)
            except (ValueError, OSError):  # not the main thread
                pass

    def _restore_signal_handlers(self) -> None:
        for sig, previous in self._previous_handlers.items():
            try:
                signal.signal(sig, previous)
            except (ValueError, OSError, TypeError):
                pass
        self._previous_handlers.clear()

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path or not Path(self.log_path).exists():
            return ""
        return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-lines:])


def node_major() -> str:
    """The major version of the Node on PATH ("" without one). jsii's end-of-life banner is
    silenced by NAMING the major (``JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20``, a
    comma-separated list); "1" silences nothing."""
    try:
        return subprocess.run(
            ["node", "-p", "process.versions.node.split('.')[0]"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def local_aws_env(endpoint: str, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Environment for the CDK CLI, the app and boto3: everything goes to the emulator.

    Real credentials, profiles and config files are masked so nothing can reach AWS.
    """
    env = dict(os.environ if base is None else base)
    for key in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        env.pop(key, None)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            # app.py gives every stack this explicit environment (moto's account).
            "CONSTRUCTS_RUST_ENV_ACCOUNT": ACCOUNT,
            "CDK_DISABLE_VERSION_CHECK": "1",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": env.get(
                "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
            )
            or node_major(),
            "CI": "true",  # CDK: no interactive prompts, progress to stdout
        }
    )
    path = [str(ROOT / ".venv" / "bin"), str(ROOT / "node_modules" / ".bin")]
    env["PATH"] = os.pathsep.join(path + [env.get("PATH", "/usr/bin:/bin")])
    # The app imports constructs_rust from this checkout even when it is not pip-installed.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_cdk(
    args: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float, log=None
) -> subprocess.CompletedProcess:  # noqa: ANN001
    """Run the pinned CDK CLI; on timeout kill its whole process group (it started it)."""
    cmd = [_bin("cdk"), *args]
    print(f"$ cdk {' '.join(args)}", file=log or sys.stdout, flush=True)
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT if log else None,
        start_new_session=True,
    )
    try:
        proc.wait(timeout=timeout)
    except BaseException:
        # Timeout, Ctrl-C, SIGTERM: stop the CLI (and the app/cargo it spawned) by its group.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode)


def bootstrap(env: Mapping[str, str], cwd: Path, timeout: float = 300, log=None) -> None:  # noqa: ANN001
    # An explicit environment: the CLI bootstraps it without synthesizing the app.
    result = run_cdk(
        ["bootstrap", f"aws://{ACCOUNT}/{REGION}"], env=env, cwd=cwd, timeout=timeout, log=log
    )
    if result.returncode:
        raise RuntimeError(f"cdk bootstrap failed with {result.returncode}")


def synth(
    stacks: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    outdir: Path,
    timeout: float = 1800,
    log=None,
) -> None:  # noqa: ANN001
    """Synthesize once (builds the Rust assets of ``stacks`` only); deploys reuse the assembly."""
    result = run_cdk(
        ["synth", *stacks, "--quiet", "--output", str(outdir)],
        env=env,
        cwd=cwd,
        timeout=timeout,
        log=log,
    )
    if result.returncode:
        raise RuntimeError(f"cdk synth failed with {result.returncode}")


def template_of(outdir: Path, stack: str) -> dict:
    return json.loads((Path(outdir) / f"{stack}.template.json").read_text())


def deploy(
    stacks: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    outdir: Path,
    timeout: float = 600,
    log=None,
) -> None:  # noqa: ANN001
    """Deploy the synthesized assembly in ``outdir``, with the flags moto_gaps picks per stack."""
    groups: Dict[tuple, List[str]] = {}
    for stack in stacks:
        groups.setdefault(tuple(moto_gaps.deploy_flags(template_of(outdir, stack))), []).append(
            stack
        )
    for flags, names in groups.items():
        args = [
            "deploy",
            *names,
            "--app",
            str(outdir),
            "--require-approval",
            "never",
            "--progress",
            "events",
            *flags,
        ]
        result = run_cdk(args, env=env, cwd=cwd, timeout=timeout, log=log)
        if result.returncode:
            raise RuntimeError(f"cdk deploy {' '.join(names)} failed with {result.returncode}")


def destroy(
    stacks: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    outdir: Path,
    timeout: float = 600,
    log=None,
) -> None:  # noqa: ANN001
    result = run_cdk(
        ["destroy", *stacks, "--force", "--app", str(outdir)],
        env=env,
        cwd=cwd,
        timeout=timeout,
        log=log,
    )
    if result.returncode:
        raise RuntimeError(f"cdk destroy failed with {result.returncode}")


def _cloudformation(endpoint: str):  # noqa: ANN202
    import boto3

    return boto3.client(
        "cloudformation",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def stack_outputs(
    endpoint: str, outdir: Path, stacks: Sequence[str]
) -> Dict[str, Dict[str, object]]:
    """Per stack: the outputs DescribeStacks reports, or, where moto lost them (stacks created
    through a change set), outputs DERIVED by moto_gaps.derive_outputs, marked as such."""
    cf = _cloudformation(endpoint)
    result: Dict[str, Dict[str, object]] = {}
    for name in stacks:
        described = cf.describe_stacks(StackName=name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}
        template = template_of(outdir, name)
        if outputs or not template.get("Outputs"):
            result[name] = {"source": "DescribeStacks", "outputs": outputs}
            continue
        physical = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for r in cf.describe_stack_resources(StackName=name)["StackResources"]
            if "LogicalResourceId" in r
        }
        result[name] = {
            "source": "DERIVED (moto lost the outputs: template + DescribeStackResources)",
            "outputs": moto_gaps.derive_outputs(template, physical),
        }
    return result


def print_outputs(outputs: Mapping[str, Mapping[str, object]]) -> None:
    print("\nStack outputs:")
    for stack, entry in outputs.items():
        print(f"  {stack}  [{entry['source']}]")
        values = entry["outputs"]
        if not values:
            print("    (none)")
        for key, value in values.items():  # type: ignore[union-attr]
            print(f"    {key} = {value}")
    print(
        "\nNot modelled by moto, so NOT checked by this local deploy (the template tests cover "
        "them):"
    )
    for item in moto_gaps.NOT_MODELLED:
        print(f"  - {item}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "stacks", nargs="*", help=f"stacks to deploy (default: {' '.join(EXAMPLE_STACKS)})"
    )
    parser.add_argument("--port", type=int, default=0, help="emulator port (default: a free one)")
    parser.add_argument(
        "--destroy", action="store_true", help="destroy the stacks again before stopping"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800,
        help="seconds allowed for cdk synth (compiles the Rust lambdas when not cached)",
    )
    args = parser.parse_args(argv)
    stacks = args.stacks or EXAMPLE_STACKS

    with tempfile.TemporaryDirectory(prefix="constructs-rust-deploy-local-") as tmp:
        tmp_path = Path(tmp)
        with MotoServer(port=args.port or None, log_path=tmp_path / "moto.log") as moto:
            print(
                f"moto_server (pid {moto.proc.pid}) on {moto.endpoint}, bound to 127.0.0.1 only",
                flush=True,
            )
            env = local_aws_env(moto.endpoint)
            timings = {}
            try:
                started = time.monotonic()
                bootstrap(env, ROOT)
                timings["bootstrap"] = time.monotonic() - started
                outdir = tmp_path / "cdk.out"
                started = time.monotonic()
                synth(stacks, env, ROOT, outdir, timeout=args.timeout)
                timings["synth"] = time.monotonic() - started
                started = time.monotonic()
                deploy(stacks, env, ROOT, outdir)
                timings["deploy"] = time.monotonic() - started
                print_outputs(stack_outputs(moto.endpoint, outdir, stacks))
                if args.destroy:
                    started = time.monotonic()
                    destroy(stacks, env, ROOT, outdir)
                    timings["destroy"] = time.monotonic() - started
            except (KeyboardInterrupt, SystemExit):
                print("\nlocal deploy interrupted", file=sys.stderr)
                raise
            except BaseException:
                print(
                    f"\nlocal deploy FAILED; last lines of the emulator's log:\n{moto.log_tail()}",
                    file=sys.stderr,
                )
                raise
            finally:
                print(
                    f"\nstopping moto_server (pid {moto.proc.pid if moto.proc else '-'})",
                    flush=True,
                )
        print("times: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as exc:
        print(f"deploy-local: {exc}", file=sys.stderr)
        sys.exit(1)
