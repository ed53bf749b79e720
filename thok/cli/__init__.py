"""The `thok` command (`thok.cli:main`), one module per command group. Each command is a thin entry
point: settings, one unit of work, a use case or a service call. Commands import what they run
inside themselves, so `thok --help` loads nothing of the app."""

from thok.cli import catalog, content, database, khata, ops, orders, parties  # noqa: F401  (they register their commands)
from thok.cli.app import main

__all__ = ["main"]
