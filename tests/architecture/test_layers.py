"""The layers of design.md hold: import-linter's contract passes, and an upward import
breaks it (shown by taking one known, listed exception out of the contract)."""
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


def test_an_upward_import_breaks_the_contract(tmp_path):
    text = (ROOT / "pyproject.toml").read_text()
    exception = '    "tickets.metrics -> sla.models",\n'
    assert exception in text
    config = tmp_path / "pyproject.toml"
    config.write_text(text.replace(exception, ""))
    result = _lint(config)
    assert result.returncode != 0
    assert "tickets is not allowed to import sla" in result.stdout
    assert "tickets.metrics -> sla.models" in result.stdout
