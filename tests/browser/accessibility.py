"""axe-core scans inside a Playwright page: fail on serious or critical violations, and say
which control on which page breaks which rule in words a person can act on."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

BLOCKING = frozenset({"serious", "critical"})
# WCAG 2.2 AA and the best-practice rules (headings in order, landmarks, one h1).
RULESETS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

_axe = Axe()


def describe(violations: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for violation in violations:
        lines.append(
            f"- [{violation['impact']}] {violation['id']}: {violation['help']}"
            f" ({violation['helpUrl']})"
        )
        for node in violation["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            lines.append(f"    at {target}")
            lines.append(f"       {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", "\n       ")
            if summary:
                lines.append(f"       {summary}")
    return "\n".join(lines)


def scan(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now."""
    results = _axe.run(
        page,
        options={"runOnly": {"type": "tag", "values": RULESETS}, "resultTypes": ["violations"]},
    )
    violations: list[dict[str, Any]] = results.response["violations"]
    return violations


def assert_accessible(page: Any, what: str) -> list[dict[str, Any]]:
    """Scan the page as it is now. Fails on serious/critical violations; returns the lesser
    ones (printed, so they show with -s or on failure) for the record."""
    violations = scan(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    lesser = [v for v in violations if v["impact"] not in BLOCKING]
    if lesser:
        print(f"\naxe: minor or moderate findings on {what} ({page.url}):\n{describe(lesser)}")
    if blocking:
        pytest.fail(
            f"axe found {len(blocking)} serious or critical accessibility violations on "
            f"{what} ({page.url}):\n{describe(blocking)}",
            pytrace=False,
        )
    return lesser
