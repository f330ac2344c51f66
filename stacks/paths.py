"""Where the example lambdas live, independent of the directory cdk runs from."""

from pathlib import Path

LAMBDAS = Path(__file__).resolve().parent.parent / "lambdas"


def crate(name: str = "") -> str:
    """Path of a crate in lambdas/ (or the workspace root), as RustFunction's manifest_path."""
    return str(LAMBDAS / name) if name else str(LAMBDAS)
