"""``local serve``'s reload without a synth: when every edited file is one that a served
function's asset hash covers (its crate, path dependencies, manifests, lock file, cargo
configs, files its last build read, extra files) and none is the app's own (Python,
``cdk.json``), rebuild just those functions through the library's pipeline
(``_build/replay.py``: one cargo run per workspace group, the bytes ``cdk synth`` would stage,
staged in ``<assembly>/constructs-rust-local/``) and restart them. Anything else synthesizes.

The assembly's templates still name the previous assets until the next synth, which then
builds nothing (the new artifacts are in the local store)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

from .model import LocalFunction

if TYPE_CHECKING:
    from .._build.replay import Replay
    from .served import Served

#: Files of the app itself: an edit of one always synthesizes (it may change a template).
APP_SUFFIXES = (".py",)
APP_NAMES = ("cdk.json", "cdk.context.json")


@dataclass
class Plan:
    """What an edit needs: the replays of the functions it touched (by staged asset
    directory), or why a synth is needed instead."""

    replays: Dict[Path, "Replay"]
    synth_because: Optional[str] = None


def warm_up() -> None:
    """Import the build pipeline ahead of the first reload (in a background thread)."""
    from .._build import replay  # noqa: F401


def app_file(rel: str) -> bool:
    """Is the app-relative path ``rel`` one of the app's own files?"""
    name = rel.rsplit("/", 1)[-1]
    return name in APP_NAMES or name.endswith(APP_SUFFIXES)


def plan_reload(app_dir: Path, functions: Sequence[LocalFunction], changed: Sequence[str]) -> Plan:
    """The served ``functions`` whose asset hash covers the ``changed`` files (app-relative),
    when every changed file is covered and none is the app's own; else why not."""
    from .._build import replay as replays

    for rel in changed:
        if app_file(rel):
            return Plan({}, f"{rel} is a file of the app")
    found: Dict[Path, "Replay"] = {}
    for function in functions:
        if function.asset_dir is not None and function.asset_dir not in found:
            one = replays.read(function.asset_dir)
            if one is not None:
                found[function.asset_dir] = one
    edited = [(app_dir / rel).resolve() for rel in changed]
    for rel, path in zip(changed, edited, strict=True):
        if not any(one.covers(path) for one in found.values()):
            return Plan({}, f"{rel} is not an input of a function served from a replayable build")
    hit = {d: one for d, one in found.items() if any(one.covers(p) for p in edited)}
    return Plan(hit) if hit else Plan({}, "no served function covers the change")


def rebuild_and_restart(served: "Served", plan: Plan) -> List[str]:
    """Rebuild ``plan``'s functions (``_build/replay.rebuild``) and restart those with a new
    asset; returns what changed. ConstructsRustError when one cannot be rebuilt alone (the
    caller synthesizes)."""
    from .._build import replay as replays

    functions = served.functions()
    results = replays.rebuild(list(plan.replays.values()), served.directory)
    moved: Dict[Path, Path] = {}
    messages: List[str] = []
    names = _names(functions)
    for old_dir, result in zip(plan.replays, results, strict=True):
        who = ", ".join(names.get(old_dir, [result.replay.construct_path]))
        if result.error is not None:
            messages.append(f"{who}: build failed (still serving the previous build)")
            messages.append(result.error)
        elif result.asset_dir is None:
            messages.append(f"{who}: unchanged (asset hash {_hash(old_dir)})")
        else:
            moved[old_dir] = result.asset_dir
            messages.append(
                f"{who}: asset hash {_hash(old_dir)} -> {_hash(result.asset_dir)} "
                "(built without a synth)"
            )
    if moved:
        messages += served.update(_moved(functions, moved), served.methods, served.directory)
    return messages


def _hash(asset_dir: Path) -> str:
    """The asset's hash as the assembly names it (``asset.<hash>``; the template's S3 key)."""
    name = asset_dir.name
    return name[len("asset.") :][:12] if name.startswith("asset.") else name


def _names(functions: Sequence[LocalFunction]) -> Dict[Path, List[str]]:
    by_dir: Dict[Path, List[str]] = {}
    for function in functions:
        if function.asset_dir is not None:
            by_dir.setdefault(function.asset_dir, []).append(function.path)
    return by_dir


def _moved(functions: Sequence[LocalFunction], moved: Dict[Path, Path]) -> List[LocalFunction]:
    return [
        replace(f, asset_dir=moved[f.asset_dir]) if f.asset_dir in moved else f for f in functions
    ]
