"""The suite's own xdist scheduling (tests/conftest.py) names scopes that exist."""

from ..conftest import HEAVIEST_FIRST, ROOT


def test_heaviest_first_names_existing_scopes_once() -> None:
    assert len(set(HEAVIEST_FIRST)) == len(HEAVIEST_FIRST)
    missing = [scope for scope in HEAVIEST_FIRST if not (ROOT / scope).exists()]
    assert missing == [], f"renamed or removed test modules: {missing}"
