"""The doc test's extraction of the README's own-app section (the slow run is
tests/integration/test_readme_own_app.py): the blocks it runs, in order, and the only two
placeholders it replaces."""

from ..conftest import ROOT
from ..integration.test_readme_own_app import (
    CHECKOUT_PLACEHOLDER,
    PORT_PLACEHOLDER,
    readme_blocks,
    readme_script,
)


def test_the_section_holds_the_whole_path_in_order():
    blocks = readme_blocks((ROOT / "README.md").read_text())
    shell = "\n".join(body for language, file, body in blocks if file is None)
    steps = [
        "npx --yes aws-cdk@",
        "pip install '/path/to/constructs_rust[build]'",
        "target/",
        "cargo lambda new --http -y api",
        "cargo lambda new --event-type sqs::SqsEvent -y worker",
        "cargo new --lib --vcs none lambdas/shared",
        "cargo add --manifest-path lambdas/api/Cargo.toml --path lambdas/shared",
        "npx cdk synth",
        "python -m pytest",
        "npx cdk deploy",
    ]
    positions = [shell.index(step) for step in steps]
    assert positions == sorted(positions), "in the order a user runs them"
    files = [file for _, file, _ in blocks if file]
    assert files == ["my_service/my_service_stack.py", "tests/unit/test_functions.py"]
    assert all(language in ("sh", "python") for language, _, _ in blocks)


def test_the_readme_pins_the_cli_of_package_json():
    import json

    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    shell = "\n".join(body for _, file, body in readme_blocks((ROOT / "README.md").read_text()))
    assert shell.count(f"aws-cdk@{pinned}") == 2, "cdk init and the app's devDependency"
    assert "aws-cdk@" not in shell.replace(f"aws-cdk@{pinned}", "")


def test_only_the_marked_placeholders_are_replaced():
    text = (ROOT / "README.md").read_text()
    script = readme_script(text, checkout="/CHECKOUT", port=1234)
    assert CHECKOUT_PLACEHOLDER not in script and PORT_PLACEHOLDER not in script
    assert "pip install '/CHECKOUT[build]'" in script and "MOTO_PORT=1234" in script
    plain = "\n".join(body for _, _, body in readme_blocks(text))
    assert script.count("\n") > plain.count("\n"), "every line of every block is in the script"
    for line in plain.splitlines():
        line = line.replace(CHECKOUT_PLACEHOLDER, "/CHECKOUT").replace(
            PORT_PLACEHOLDER, "MOTO_PORT=1234"
        )
        assert line in script
