"""The alerting rules, unit-tested by Prometheus's own tool on synthetic series."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT

OPS = ROOT / "ops"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package `prometheus`; .ci/run installs it as root)"
)


@needs_promtool
def test_alert_rules_are_valid() -> None:
    result = subprocess.run([PROMTOOL, "check", "rules", str(OPS / "alerts.yml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 10 rules found" in result.stdout


@needs_promtool
def test_alert_rules_fire_on_synthetic_series() -> None:
    result = subprocess.run(
        [PROMTOOL, "test", "rules", "alerts_test.yml", "alerts_housekeeping_test.yml"],
        cwd=OPS,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 2


def test_every_alert_is_tested() -> None:
    """A rule added without a test case would pass promtool silently."""
    rules = {
        line.split(":", 1)[1].strip()
        for line in (OPS / "alerts.yml").read_text().splitlines()
        if line.strip().startswith("- alert:")
    }
    tested = set()
    for name in ("alerts_test.yml", "alerts_housekeeping_test.yml"):
        tested |= {
            line.split(":", 1)[1].strip()
            for line in (OPS / name).read_text().splitlines()
            if line.strip().startswith("alertname:")
        }
    assert rules and rules == tested
