"""The layers in docs/architecture.md are the layers `make lint` enforces: an import against
them fails the lint, and every module of the project wiring is named in the contract (a
module named nowhere would be checked by no layer)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("smartdesk", "accounts", "customers", "chats", "telephony", "analytics")
LINT = Path(sys.executable).with_name("lint-imports")


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def _layers() -> list[set[str]]:
    (layers,) = [c["layers"] for c in _contracts() if c["type"] == "layers"]
    return [
        {name.strip() for part in layer.replace("|", ":").split(":") if (name := part.strip())}
        for layer in layers
    ]


def test_every_module_of_the_wiring_is_in_a_layer() -> None:
    named = set().union(*_layers())
    wiring = {
        f"smartdesk.{path.stem}"
        for path in (ROOT / "smartdesk").iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").exists())
        and path.name not in {"__init__.py", "core", "__pycache__"}
    }
    assert wiring, "no module found: the test looks in the wrong place"
    assert wiring - named == set()
    assert "smartdesk.core" in _layers()[-1]


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    """The apps and the contract copied, so an import can be added without touching the repo."""
    copy = tmp_path_factory.mktemp("layers")
    for app in APPS:
        shutil.copytree(
            ROOT / app, copy / app, ignore=shutil.ignore_patterns("__pycache__", "migrations")
        )
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _lint(copy: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own lint-imports on a copy of our code
        [str(LINT), "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("customers/selectors.py", "chats.models"),  # a lower app reaching up
        ("smartdesk/core/realtime.py", "accounts.models"),  # core importing an app
        ("chats/services/common.py", "telephony.models"),  # chats reaching telephony
    ],
)
def test_an_upward_import_fails_the_lint(project_copy: Path, module: str, upward: str) -> None:
    assert _lint(project_copy).returncode == 0, "the copy must pass before the change"
    target = project_copy / module
    original = target.read_text()
    try:
        target.write_text(original + f"\n\ndef _reach_up():\n    import {upward}  # noqa\n")
        found = _lint(project_copy)
    finally:
        target.write_text(original)
    assert found.returncode != 0
    assert "BROKEN" in found.stdout
    assert upward in found.stdout
