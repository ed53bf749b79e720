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

    graph = grimp.build_graph(*PACKAGES)
    assert graph.find_modules_that_directly_import("bot.app") == set()
    for module in ("bot.webhook", "bot.health", "bot.simulator", "bot.pay", "bot.statement", "dashboard.web"):
        assert not graph.chain_exists(importer=module, imported="bot.app"), module
    assert not graph.chain_exists(importer="workers", imported="bot.health", as_packages=True)


PACKAGES = (
    "bot",
    "dashboard",
    "workers",
    "channels",
    "handlers",
    "usecases",
    "payments",
    "domain",
    "parsing",
    "db",
    "thok",
)
# Imports inside a function that stay, each for a reason other than dodging a circle.
LOCAL_IMPORTS_KEPT = {
    "dashboard/__init__.py": "init_dashboard registers the routes when an app asks, as Flask's init_app",
}


def local_imports(path: Path) -> list[str]:
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
                    names = [inner.module]
                elif isinstance(inner, ast.Import):
                    names = [alias.name for alias in inner.names]
                else:
                    continue
                found += [f"{node.name}: {n}" for n in names if n.split(".")[0] in PACKAGES]
    return found


def test_no_function_local_imports_between_our_modules() -> None:
    """A local import of our own code is how a circle hides; the CLI's are lazy on purpose (a
    command loads only what it runs), so thok/cli/ is not looked at."""
    offenders = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith("thok/cli/") or relative in LOCAL_IMPORTS_KEPT:
                continue
            if found := local_imports(path):
                offenders[relative] = found
    assert offenders == {}


def test_db_and_domain_import_nothing_above_them() -> None:
    """db/ imports none of our other packages; domain/ only db/ and the parser (a pure library)."""
    import grimp

    graph = grimp.build_graph(*PACKAGES)
    for high in PACKAGES:
        if high != "db":
            assert not graph.chain_exists(importer="db", imported=high, as_packages=True), f"db -> {high}"
    for high in (
        "dashboard",
        "workers",
        "handlers",
        "usecases",
        "payments",
        "thok",
        "bot.app",
        "bot.webhook",
        "channels",
    ):
        assert not graph.chain_exists(importer="domain", imported=high, as_packages=True), f"domain -> {high}"


def test_no_two_packages_import_each_other() -> None:
    """No import circle between top-level packages (issue 14): bot (the web edge) imports workers
    to enqueue, so workers must not import bot; the provider adapters live in channels/, below both.
    thok is left out: it holds both the entry points (cli, seed) above everything and the
    process configuration (config, logging, metrics) below it, which the layers contract orders."""
    import grimp

    graph = grimp.build_graph(*PACKAGES)
    packages = [p for p in PACKAGES if p != "thok"]
    circles = [
        (a, b)
        for i, a in enumerate(packages)
        for b in packages[i + 1 :]
        if graph.direct_import_exists(importer=a, imported=b, as_packages=True)
        and graph.direct_import_exists(importer=b, imported=a, as_packages=True)
    ]
    assert circles == []
