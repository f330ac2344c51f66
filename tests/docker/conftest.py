"""Docker tests share one library cache across sessions (under the stand-in image cache), so
the Docker cargo cache (crates, and zig's compiled libc stubs and compiler-rt, which take
minutes to build) is paid once per machine, as it is for a user."""

import pytest

from tests.docker.engine import CACHE


@pytest.fixture(autouse=True)
def _persistent_library_cache(monkeypatch):
    cache = CACHE / "library-cache"
    cache.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("CONSTRUCTS_RUST_CACHE_DIR", str(cache))
    yield
