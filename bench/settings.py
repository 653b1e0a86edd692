"""Settings for benchmarks: saferoom's own, as production runs them (DEBUG off, every
middleware, the database connection handling of the chosen engine), with only what a benchmark
needs changed: static files served from the source folders (no collectstatic manifest), cookies
without the Secure flag (the benchmark speaks plain HTTP to itself) and a fast password hasher
for the personas it creates. ``bench.__main__`` sets the environment before this is imported."""

from __future__ import annotations

from saferoom.settings import *  # noqa: F403

DEBUG = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Quiet: a benchmark prints its table, not a log line per request.
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
