"""The layers the imports obey (issue 14): pyproject's [tool.importlinter] contracts hold for the code
as it is, so a wrong-way import fails this test (and CI's `lint-imports`) instead of waiting for a
review."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lint_imports() -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("lint-imports")  # installed by the test extras
    return subprocess.run(
        [str(script), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_every_import_contract_is_kept() -> None:
    run = lint_imports()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout
    assert "Layers: entry points" in run.stdout  # the layers contract ran, not an empty configuration
