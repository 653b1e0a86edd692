"""Security headers and the production configuration (checklist item 9): a strict content
security policy on every page, the framing, sniffing, referrer, opener and permissions headers,
HSTS in production, and `manage.py check --deploy` clean with production settings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.test import Client as HttpClient
from django.test import override_settings
from django.urls import reverse

import saferoom

TEMPLATES = Path(saferoom.__file__).parent / "templates"


def _csp(response) -> dict[str, list[str]]:
    policy: dict[str, list[str]] = {}
    for part in response["Content-Security-Policy"].split(";"):
        directive, *sources = part.split()
        policy[directive] = sources
    return policy


@pytest.mark.django_db
def test_the_login_page_sends_a_policy_that_allows_nothing_inline_and_nothing_foreign():
    response = HttpClient().get(reverse("login"))
    assert response.status_code == 200
    csp = _csp(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    header = response["Content-Security-Policy"]
    assert "unsafe-inline" not in header
    assert "unsafe-eval" not in header
    assert "http" not in header  # no other origin, no CDN


def test_a_logged_in_page_with_client_data_sends_every_security_header(as_desk, site_a):
    response = as_desk.get(reverse("clients:find", kwargs={"site": site_a.slug}))
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_static_files_and_error_pages_carry_the_policy_too():
    http = HttpClient()
    for url in ("/static/saferoom/saferoom.js", "/no-such-page/"):
        response = http.get(url)
        response.close()  # a static file is streamed from disk
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"], url


@pytest.mark.django_db
@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_https_responses_tell_the_browser_to_use_https_for_a_year():
    response = HttpClient().get(reverse("login"), secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


# Attributes and tags a strict policy would block: inline scripts and styles, event handlers.
_INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "a style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on…= event handler"),
    (re.compile(r"\shx-on[:-]", re.I), "an hx-on handler (needs eval)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def test_no_template_holds_inline_script_style_or_event_handlers():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern, what in _INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(TEMPLATES)}:{line}: {what}")
    assert found == []


def test_htmx_is_told_not_to_inject_its_indicator_styles_or_evaluate_code(as_desk, site_a):
    html = as_desk.get(reverse("floor:queue", kwargs={"site": site_a.slug})).content.decode()
    config = re.search(r'<meta name="htmx-config" content=\'([^\']*)\'', html)
    assert config is not None
    assert '"includeIndicatorStyles": false' in config.group(1)
    assert '"allowEval": false' in config.group(1)
    # The meta tag must come before htmx itself, which reads it when it loads.
    assert html.index('name="htmx-config"') < html.index("htmx-2")


def test_no_template_comment_spans_lines_and_so_prints_on_the_page(as_desk, site_a):
    # Django's {# #} comment is one line only: a longer one is printed as text.
    found = [
        f"{path.relative_to(TEMPLATES)}:{text.count(chr(10), 0, match.start()) + 1}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for text in [path.read_text(encoding="utf-8")]
        for match in re.finditer(r"\{#(?:(?!#\}).)*\n", text)
    ]
    assert found == []
    html = as_desk.get(reverse("floor:queue", kwargs={"site": site_a.slug})).content.decode()
    assert "{#" not in html
    assert "#}" not in html


def test_every_template_leaves_htmx_configuration_to_the_base_page():
    # htmx reads only the first htmx-config meta: a second one in a page's head is ignored,
    # and with it that page's wish to swap 422 refusals (the refusal would show as a failure).
    others = [
        str(path.relative_to(TEMPLATES))
        for path in sorted(TEMPLATES.rglob("*.html"))
        if 'name="htmx-config"' in path.read_text(encoding="utf-8")
    ]
    assert others == ["base.html"]


def test_htmx_swaps_a_422_refusal_and_a_409_conflict_and_treats_other_failures_as_errors(
    as_desk, site_a
):
    html = as_desk.get(reverse("board:board", kwargs={"site": site_a.slug})).content.decode()
    assert html.count('name="htmx-config"') == 1
    config = re.search(r'<meta name="htmx-config" content=\'([^\']*)\'', html)
    assert config is not None
    handling = json.loads(config.group(1))["responseHandling"]
    errors = handling.index({"code": "[45]..", "swap": False, "error": True})
    # A refusal of bad input, and a stale edit's conflict screen (both versions, to merge).
    for swapped in ({"code": "422", "swap": True}, {"code": "409", "swap": True}):
        assert swapped in handling
        assert handling.index(swapped) < errors


def _production_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SAFEROOM_", "DJANGO_", "PYTEST"))
    }
    env.update(
        SAFEROOM_DEBUG="0",
        SAFEROOM_SECRET_KEY="production-secret-" + "x7Q!" * 12,
        SAFEROOM_LINKAGE_KEY="linkage-" + "k9" * 16,
        SAFEROOM_AUDIT_KEY="audit-" + "a8" * 16,
        SAFEROOM_FIELD_KEYS=Fernet.generate_key().decode(),
        SAFEROOM_ALLOWED_HOSTS="saferoom.example.org",
        SAFEROOM_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="saferoom.settings",
    )
    return env


def _manage(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "django", *args],
        env=env or _production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_turn_on_https_only_cookies_and_hsts(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS >= 31536000, s.X_FRAME_OPTIONS)"
    )
    result = _manage(tmp_path, "shell", "--verbosity", "0", "--command", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "True", "True", "DENY"]


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = _production_env(tmp_path)
    del env["SAFEROOM_SECRET_KEY"]
    result = _manage(tmp_path, "check", env=env)
    assert result.returncode != 0
    assert "SAFEROOM_SECRET_KEY is not set" in result.stderr
