"""Browser tests in real Chromium (Debian's /usr/bin/chromium, never a downloaded browser).

The fixtures are in ``tests/browser/fixtures.py``. Every test here, and every test elsewhere
that uses the ``browser`` fixture, is marked ``browser``. Without Chromium the browser tests
fail in CI (CI=true) and are skipped elsewhere, with a loud notice at the end of the run so
nobody mistakes a skip for a pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.fixtures import CHROMIUM, MISSING, browser, log_in, page

__all__ = ["browser", "log_in", "page"]

_HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before `-m "not browser"` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        here = _HERE in Path(str(item.path)).parents
        if here or "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if MISSING in str(getattr(report, "longrepr", ""))
    ]
    if not skipped:
        return
    bar = "!" * 88
    for line in (
        "",
        bar,
        f"!! SKIPPED {len(skipped)} browser tests: {CHROMIUM} is not installed.",
        "!! Install Debian's chromium (apt-get install chromium); in CI they must run.",
        bar,
    ):
        terminalreporter.write_line(line, red=True, bold=True)
