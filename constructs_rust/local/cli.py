"""The ``constructs-rust`` command (also ``python -m constructs_rust``)."""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .._support import lifeline
from .model import LocalError

PROG = "constructs-rust"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=PROG,
        description="Run the Rust functions of the CDK app in the current directory locally.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    local = commands.add_parser(
        "local", help="invoke or serve the synthesized app's functions on this machine"
    )
    actions = local.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--app-dir",
            type=Path,
            default=Path("."),
            help="the CDK app's directory (with cdk.json). Default: the current directory",
        )
        sub.add_argument(
            "--no-synth",
            action="store_true",
            help="use the existing cloud assembly (cdk.json's output, cdk.out) as it is",
        )
        sub.add_argument(
            "--env",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="set an environment variable of the function(s), e.g. one the template sets "
            "to a deploy-time value (repeatable)",
        )

    invoke = actions.add_parser(
        "invoke",
        help="invoke one function once: payload on stdout, logs on stderr",
        description="Synthesize the app (building what is stale), invoke the staged bootstrap "
        "of one function with its template's environment, print the payload on stdout and the "
        "function's logs on stderr. Exit status 1 when the function fails: it returns an "
        "error, runs past its timeout, its runtime exits, or its answer is over Lambda's "
        "limit (Lambda's error payload on stdout).",
    )
    invoke.add_argument(
        "function", help="construct path (Stack/Function), Stack/LogicalId or logical id"
    )
    invoke.add_argument(
        "--event", metavar="FILE", help="the JSON event: a file, or - for stdin. Default: {}"
    )
    common(invoke)
    serve = actions.add_parser(
        "serve",
        help="serve the function URLs, HTTP API routes and REST API methods on localhost, "
        "reloading on edits",
        description="Serve every function with a function URL (at /<construct path>/), every "
        "HTTP API route (at /<API construct path>/<route>) and every REST API method (at "
        "/<API construct path>/<stage>/<resource>) on localhost, failing as Lambda and API "
        "Gateway fail (timeouts, crashed runtimes, payload limits) and answering CORS "
        "preflights; every function through the Lambda Invoke API (boto3's "
        "endpoint_url=http://HOST:PORT); an edit of a watched file re-synthesizes the app and "
        "restarts the functions that changed.",
    )
    serve.add_argument("--port", type=int, default=3000, help="Default: 3000")
    serve.add_argument("--host", default="127.0.0.1", help="Default: 127.0.0.1")
    serve.add_argument("--no-watch", action="store_true", help="do not reload on edits")
    serve.add_argument(
        "--concurrency",
        type=int,
        default=None,
        metavar="N",
        help="execution environments (processes) per function, started as concurrent requests "
        "need them, for a function whose template reserves no concurrency. Default: 10",
    )
    common(serve)
    return top


def _overrides(pairs: Sequence[str]) -> Dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise LocalError(f"--env {pair!r}: give NAME=VALUE")
        out[name] = value
    return out


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _stop_node() -> None:
    """Stop jsii's node process (started when ``constructs_rust`` imports ``aws_cdk``) now, and
    quietly. It shares this process's group, so a Ctrl-C in a terminal kills it too, and jsii's
    exit handler would then write to its closed pipe (a ``BrokenPipeError`` traceback)."""
    runtime = sys.modules.get("jsii._runtime")
    provider = getattr(getattr(runtime, "kernel", None), "provider", None)
    prop = getattr(type(provider), "_process", None)
    cells = getattr(getattr(prop, "fget", None), "__closure__", None) or ()
    for cell in cells:
        try:
            stored = cell.cell_contents
        except ValueError:
            continue
        if not isinstance(stored, list) or not stored:
            continue
        node = stored[0]
        proc = getattr(node, "_process", None)
        stop = getattr(node, "stop", None)
        if proc is None or stop is None:
            continue
        atexit.unregister(stop)
        node.stop = lambda: None  # its __del__ calls it again
        if proc.poll() is None:
            proc.terminate()
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=1)
        except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: it must go
            proc.kill()
        context = getattr(node, "_ctx_stack", None)
        if context is not None:
            context.close()  # its copy of the jsii runtime, a temporary directory


def main(argv: Optional[List[str]] = None) -> int:
    """The command (``argv``: the arguments after the program name; default: the command
    line). Run as the command (no ``argv``), the process is about to exit: jsii's node goes
    too."""
    if argv is not None:
        return _main(argv)
    code = 1
    try:
        code = _main(argv)
    except SystemExit as exc:  # argparse: --help, a usage error
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
    except BaseException:  # a bug: its traceback, then the same clean exit
        traceback.print_exc()
    finally:
        _stop_node()
        # Everything this started is stopped and cleaned up: exit now. The interpreter's own
        # teardown of the CDK's modules would take seconds, a Ctrl-C is to be over at once.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def _main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    # SIGINT and SIGTERM stop the functions, emulators and a running synth, then exit: also
    # when SIGINT came in ignored (a `&` job of a script), where Python would not raise
    # KeyboardInterrupt, and for SIGTERM (kill, a CI timeout), where it would exit at once and
    # leave the children running.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
    lifeline.start()  # and should it be killed outright (SIGKILL), its guard stops them
    try:
        overrides = _overrides(args.env)
        if args.action == "invoke":
            from .early import EarlyEmulator

            # cargo-lambda's emulator starts while the rest of the command is imported
            with EarlyEmulator(start=args.no_synth) as early:
                from .invoke import invoke

                return invoke(
                    args.function,
                    event=args.event,
                    app_dir=args.app_dir,
                    no_synth=args.no_synth,
                    overrides=overrides,
                    emulator=early.take,
                )
        from .serve import serve

        return serve(
            host=args.host,
            port=args.port,
            app_dir=args.app_dir,
            no_synth=args.no_synth,
            overrides=overrides,
            watch=not args.no_watch,
            concurrency=args.concurrency,
        )
    except LocalError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
