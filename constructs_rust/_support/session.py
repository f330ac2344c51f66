"""Per-app state: one ``Session`` per CDK app holds every memo, once-only notice and slot (the
build queue) the library keeps while an app is synthesized, with one ``reset``.

Two apps in one process (a pytest run with several stacks, a script that synthesizes twice)
share nothing: each app's root construct gets its own session (``session_for(root)``, weakly
keyed, so a discarded app takes its state with it). The public constructs and the synth-time
hooks run their work inside ``session_for(root).active()``; code below them asks
``current()``. A direct call outside any app (a unit test calling ``load_workspace``, the
``constructs-rust`` command reading an assembly) uses the process's default session, which the
test suite resets before every test (``default().reset()`` in ``tests/conftest.py``).

Thread-pool workers (``_cargo/depgraph`` resolving graphs, ``_store/remote`` fetching and
uploading) do not see the active session (context variables do not flow into
``ThreadPoolExecutor`` workers), so they touch no memo: they take what they need as arguments
and return results the calling thread records.
"""

from __future__ import annotations

import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, Hashable, Iterator, Optional, Set, TypeVar

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


@dataclass(frozen=True)
class MemoKey(Generic[K, V]):
    """Names one memo of a session; its type parameters type the dict ``Session.memo`` gives."""

    name: str


@dataclass(frozen=True)
class SlotKey(Generic[T]):
    """Names one per-app object of a session (the build queue)."""

    name: str


class Session:
    """The state the library keeps for one app."""

    def __init__(self) -> None:
        self._memos: Dict[str, Dict[Any, Any]] = {}
        self._notices: Set[Hashable] = set()
        self._slots: Dict[str, Any] = {}

    def memo(self, key: MemoKey[K, V]) -> Dict[K, V]:
        """The session's dict for ``key`` (created empty on first use)."""
        found: Dict[K, V] = self._memos.setdefault(key.name, {})
        return found

    def once(self, key: Hashable) -> bool:
        """True the first time ``key`` is asked for in this session (a once-only notice)."""
        if key in self._notices:
            return False
        self._notices.add(key)
        return True

    def slot(self, key: SlotKey[T], factory: Callable[[], T]) -> T:
        """The session's object for ``key``, made by ``factory`` on first use."""
        if key.name not in self._slots:
            self._slots[key.name] = factory()
        found: T = self._slots[key.name]
        return found

    def reset(self) -> None:
        """Forget everything: memos, notices and slots."""
        self._memos.clear()
        self._notices.clear()
        self._slots.clear()

    @contextmanager
    def active(self) -> Iterator["Session"]:
        """Make this the session ``current()`` returns while the block runs (re-entrant)."""
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)


_active: ContextVar[Optional[Session]] = ContextVar("constructs_rust_session", default=None)
_default = Session()
#: One session per app, keyed by the app's root construct (by identity; weak).
_sessions: "weakref.WeakKeyDictionary[object, Session]" = weakref.WeakKeyDictionary()


def session_for(root: object) -> Session:
    """The session of the app whose root construct is ``root``."""
    found = _sessions.get(root)
    if found is None:
        found = _sessions[root] = Session()
    return found


def current() -> Session:
    """The active app's session, else the process's default session."""
    return _active.get() or _default


def default() -> Session:
    """The session of calls made outside any app."""
    return _default
