"""The axe scan itself: it must fail on the problems it is there to catch, or every
"no serious problems" above would prove nothing."""

from __future__ import annotations

import pytest

from tests.browser.accessibility import assert_accessible

BROKEN = """<!doctype html><html lang="en-gb"><head><title>Broken</title></head><body>
<main><h1>Queue</h1>
<form><input type="text" name="code">
<button type="submit"><svg width="10" height="10"></svg></button></form>
<p style="color:#bbb;background:#fff">Faint text nobody can read</p>
</main></body></html>"""


def test_the_scan_fails_on_unnamed_controls_and_says_which(page):
    page.set_content(BROKEN)
    with pytest.raises(pytest.fail.Exception) as failure:
        assert_accessible(page, "a broken page")
    report = str(failure.value)
    assert "button-name" in report
    assert "label" in report
    assert '<input type="text" name="code">' in report


def test_the_scan_passes_a_plain_accessible_page(page):
    page.set_content(
        '<!doctype html><html lang="en-gb"><head><title>Fine</title></head><body><main>'
        '<h1>Fine</h1><label for="c">Client code</label><input id="c">'
        '<button type="submit">Find</button></main></body></html>'
    )
    assert assert_accessible(page, "a plain page") == []
