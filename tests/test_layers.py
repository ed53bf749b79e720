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


def test_nothing_imports_the_app_factory_and_the_web_edge_has_no_circle() -> None:
    """Blueprints and the dashboard take what a request needs from thok.web, as flaskr's get_db(): the
    factory imports them at its top, and nothing imports the factory back (gunicorn names it)."""
    import grimp

    graph = grimp.build_graph("bot", "dashboard", "workers", "handlers", "payments", "domain", "db", "thok")
    assert graph.find_modules_that_directly_import("bot.app") == set()
    for module in ("bot.webhook", "bot.health", "bot.simulator", "bot.pay", "bot.statement", "dashboard.web"):
        assert not graph.chain_exists(importer=module, imported="bot.app"), module
    assert not graph.chain_exists(importer="workers", imported="bot.health", as_packages=True)
