"""The layers of design.md hold: import-linter's contract passes, and an upward import
breaks it (shown by adding one to a copy of the code)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent))

pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is not installed")


def _lint(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT, "--no-cache", "--config", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_contract_is_kept():
    result = _lint(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


def _lint_in(root: Path) -> subprocess.CompletedProcess[str]:
    # lint-imports puts its working directory first on sys.path: the copy is analysed.
    return subprocess.run([LINT, "--no-cache", "--config", str(root / "pyproject.toml")],
                          cwd=root, capture_output=True, text=True, timeout=120, check=False)


def test_an_upward_import_breaks_the_contract(tmp_path):
    # A copy of the code, where tickets reads the SLA clocks as its metrics once did.
    text = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(text)
    packages = text.split("root_packages = [", 1)[1].split("]", 1)[0]
    for name in (n.strip().strip('"') for n in packages.split(",")):
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    (tmp_path / "tickets" / "upward.py").write_text(
        "def clocks():\n    from sla.models import Clock\n\n    return Clock.objects.all()\n")
    result = _lint_in(tmp_path)
    assert result.returncode != 0
    assert "tickets is not allowed to import sla" in result.stdout
    assert "tickets.upward -> sla.models" in result.stdout
