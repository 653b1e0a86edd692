"""One settings module for every environment, read from SAFEROOM_* environment variables.

SQLite is the default so that one command runs the whole product; SAFEROOM_DATABASE_URL selects
PostgreSQL. Development secrets are generated once into the git-ignored ``var/`` folder; with
DEBUG off, saferoom refuses to start until real secrets are given.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent
VAR_DIR = Path(os.environ.get("SAFEROOM_VAR_DIR", PROJECT_DIR / "var"))

TESTING = "pytest" in sys.modules or os.environ.get("SAFEROOM_TESTING") == "1"


def env_str(name: str, default: str = "") -> str:
    value = os.environ.get(name)
    if value is None:
        file_name = os.environ.get(f"{name}_FILE")
        if file_name:
            return Path(file_name).read_text(encoding="utf-8").strip()
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [part.strip() for part in value.split(",") if part.strip()]


DEBUG = env_bool("SAFEROOM_DEBUG", False)


def _secret(name: str, *, min_length: int) -> str:
    """A secret from the environment; in development, one generated once into var/."""
    value = env_str(name)
    if value:
        if len(value) < min_length:
            raise ImproperlyConfigured(f"{name} must be at least {min_length} characters long.")
        return value
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            f"{name} is not set. saferoom will not start in production without it: "
            f"set {name} (or {name}_FILE) to a random value of at least {min_length} characters."
        )
    path = VAR_DIR / "secrets" / name.lower()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret("SAFEROOM_SECRET_KEY", min_length=50)
# The key of the keyed hash that links a returning client to their code-scheme attributes.
# It is never stored in the database, so a database dump cannot be matched against guesses.
LINKAGE_KEY = _secret("SAFEROOM_LINKAGE_KEY", min_length=32)


def _linkage_key_layers(first: str, *, min_length: int) -> list[str]:
    """Later keys wrapped around the linkage hashes (``saferoom rotate-linkage-key``), in the
    order they were added, the newest last; separated by commas or new lines. None by default,
    in development too: the linkage key alone."""
    name = "SAFEROOM_LINKAGE_KEY_LAYERS"
    layers = env_str(name).replace(",", " ").split()
    for number, key in enumerate(layers, start=1):
        which = f"{name}: key {number} (layer {number + 1})"
        if len(key) < min_length:
            raise ImproperlyConfigured(f"{which} must be at least {min_length} characters long.")
        if key in (first, *layers[: number - 1]):
            raise ImproperlyConfigured(
                f"{which} repeats an earlier key; each layer needs a new random key."
            )
    return layers


# Each layer re-keys every stored linkage hash, so that an old key alone matches nothing
# (clients.codes.linkage_hashes). Never remove or reorder one: hashes under it stop matching.
LINKAGE_KEY_LAYERS = _linkage_key_layers(LINKAGE_KEY, min_length=32)
# The key of the audit log's HMAC hash chain (saferoom.core.audit_chain). Kept out of the
# database and its backups, so that whoever can write to the database cannot forge the chain.
AUDIT_KEY = _secret("SAFEROOM_AUDIT_KEY", min_length=32)
# Where the worker appends an anchor of the audit chain (its head) every ten minutes, against a
# rollback of the log (saferoom.core.audit_anchor); empty: only the log line. Ship it off the
# machine: an intruder on the database server must not be able to change it.
AUDIT_ANCHOR_FILE = env_str("SAFEROOM_AUDIT_ANCHOR_FILE")


def _field_keys() -> list[str]:
    """Fernet keys for fields encrypted at rest (free-text notes, identity records), newest
    first: the newest encrypts, every key decrypts, ``saferoom rotate_field_keys``
    re-encrypts with the newest. In development, one key generated once into var/."""
    from cryptography.fernet import Fernet

    name = "SAFEROOM_FIELD_KEYS"
    value = env_str(name)
    if not value and (DEBUG or TESTING):
        path = VAR_DIR / "secrets" / name.lower()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(Fernet.generate_key().decode(), encoding="utf-8")
            path.chmod(0o600)
        value = path.read_text(encoding="utf-8").strip()
    keys = [part.strip() for part in value.split(",") if part.strip()]
    if not keys:
        raise ImproperlyConfigured(
            f"{name} is not set. Set it (or {name}_FILE) to one or more Fernet keys, newest "
            "first, separated by commas (make one with: saferoom generate_field_key)."
        )
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(f"{name} holds a value that is not a Fernet key.") from None
    return keys


FIELD_KEYS = _field_keys()


def _backup_keys() -> list[str]:
    """Keys that encrypt ``saferoom backup`` files (AES-256-GCM), newest first: the newest
    encrypts, every key listed decrypts. Only the backup and restore commands need them, so
    the web process starts without; in development, one key generated once into var/."""
    import base64

    name = "SAFEROOM_BACKUP_KEY"
    value = env_str(name)
    if not value and (DEBUG or TESTING):
        path = VAR_DIR / "secrets" / name.lower()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
            path.chmod(0o600)
        value = path.read_text(encoding="utf-8").strip()
    keys = [part.strip() for part in value.split(",") if part.strip()]
    for key in keys:
        try:
            valid = len(base64.urlsafe_b64decode(key.encode())) == 32
        except ValueError:
            valid = False
        if not valid:
            raise ImproperlyConfigured(
                f"{name} holds a value that is not a key (make one with: saferoom "
                "generate_field_key)."
            )
    return keys


BACKUP_KEYS = _backup_keys()
# Where ``saferoom backup`` writes when not told (one encrypted file per backup).
BACKUP_DIR = Path(env_str("SAFEROOM_BACKUP_DIR", str(VAR_DIR / "backups")))

ALLOWED_HOSTS = env_list(
    "SAFEROOM_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG or TESTING else []
)
if not ALLOWED_HOSTS and not DEBUG:
    raise ImproperlyConfigured(
        "SAFEROOM_ALLOWED_HOSTS is not set: give the host names this server answers to, "
        "separated by commas."
    )
CSRF_TRUSTED_ORIGINS = env_list("SAFEROOM_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "saferoom.core",
    "saferoom.sites",
    "saferoom.clients",
    "saferoom.floor",
    "saferoom.incidents",
    "saferoom.care.supplies",
    "saferoom.care.referrals",
    "saferoom.care.checking",
    "saferoom.reports",
    "saferoom.evaluation",
    "saferoom.governance",
    "saferoom.api",
    "saferoom.simulation",
    "saferoom.accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "saferoom.core.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "saferoom.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "saferoom.core.middleware.SessionLifetimeMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "saferoom.accounts.middleware.TwoFactorRequiredMiddleware",
    "saferoom.core.middleware.DenyByDefaultMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "saferoom.core.middleware.NoStoreMiddleware",
    "saferoom.core.ratelimit.RateLimitMiddleware",
    # Last, so that it turns a refused login into the lockout page (saferoom.accounts.lockout).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "saferoom.urls"
WSGI_APPLICATION = "saferoom.wsgi.application"
ASGI_APPLICATION = "saferoom.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "saferoom.core.context_processors.saferoom",
            ],
        },
    }
]


def _database() -> dict[str, Any]:
    url = env_str("SAFEROOM_DATABASE_URL")
    if url:
        import dj_database_url

        # Health checks: a kept-open connection that died with a database restart is
        # replaced before the request uses it, instead of failing that request.
        config: dict[str, Any] = dict(
            dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
        )
    else:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        # Keeping the connection open saves ~1.5 ms per request (PRAGMAs, WAL checkpoint on
        # close): most of an unchanged board poll (make bench).
        config = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "saferoom.sqlite3",
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
        }
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the board be read while the desk writes; FULL makes every acknowledged
        # commit survive a power cut; IMMEDIATE takes the write lock at BEGIN so writers queue
        # for the busy timeout instead of failing with "database is locked" mid-transaction.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                "PRAGMA busy_timeout=20000;"
            ),
        }
    config.setdefault("TEST", {})
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# The lockout backend comes first: it refuses a locked-out username before any password is
# checked (saferoom.accounts.backends). Lockout is per username, never per IP address, so one
# person mistyping (or someone guessing) on the desk's shared connection locks nobody else out.
AUTHENTICATION_BACKENDS = [
    "saferoom.accounts.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_FAILURE_LIMIT = env_int("SAFEROOM_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("SAFEROOM_LOGIN_COOLOFF_MINUTES", 15))
# A refused attempt during the cool-off does not restart it: someone hammering a username cannot
# keep its owner out for good.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "saferoom.accounts.lockout.lockout_response"
# Logins are in the audit log already; axes keeps only the failed attempts it counts.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
# axes warns when the IP address is not a lockout parameter; leaving it out is the point (see
# above), and a username's failures count whatever browser or cookie they come with.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
# Two-factor login (saferoom.accounts.two_factor): the name authenticator apps show.
OTP_TOTP_ISSUER = env_str("SAFEROOM_TWO_FACTOR_ISSUER", "saferoom")
# A personal PIN for switching user on a shared tablet: this many wrong PINs lock it for the
# same cool-off as a password.
PIN_FAILURE_LIMIT = env_int("SAFEROOM_PIN_FAILURE_LIMIT", 5)
PIN_MIN_LENGTH = 6
# Enrolled tablets (saferoom.accounts.tablets, ADR 14): desk and floor staff without an
# authenticator app log in, and switch user by PIN, only on a tablet a manager enrolled for a site
# where they work. Off means a password alone lets them in anywhere, as before ADR 14.
ENROLLED_TABLETS_REQUIRED = env_bool("SAFEROOM_ENROLLED_TABLETS_REQUIRED", True)
# A manager's enrolment code works once, for this long.
TABLET_CODE_MINUTES = 15
# Wrong enrolment codes, across the whole service, that pause enrolling for the login cool-off.
TABLET_CODE_FAILURE_LIMIT = 20
# The tablet's cookie: as long as browsers keep one (Chrome caps at 400 days); renewed as the
# tablet is used, so a tablet in use never needs enrolling again.
TABLET_COOKIE_NAME = "saferoom_tablet"
TABLET_COOKIE_AGE = 400 * 24 * 60 * 60

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    # Argon2 is slow on purpose; tests check the production hasher separately.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions: an absolute lifetime of 12 hours (one long shift); the idle timeout is enforced by
# SessionLifetimeMiddleware so that the board's background polling does not keep a session alive.
SESSION_COOKIE_AGE = 12 * 60 * 60
# Django's database sessions in a table that also names the user and the device, so a person
# can see where they are logged in and end a login on a lost tablet (saferoom.accounts.sessions).
SESSION_ENGINE = "saferoom.accounts.sessions"
SESSION_IDLE_TIMEOUT = env_int("SAFEROOM_IDLE_TIMEOUT_MINUTES", 15) * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG and not TESTING
CSRF_COOKIE_SECURE = not DEBUG and not TESTING
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from a meta tag, not the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SAFEROOM_SSL_REDIRECT", not DEBUG and not TESTING)
SECURE_HSTS_SECONDS = env_int("SAFEROOM_HSTS_SECONDS", 0 if DEBUG or TESTING else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG and not TESTING
# Preloading is the operator's decision: it binds the whole domain and its subdomains to HTTPS
# for months, and anyone may submit a domain whose header asks for it. Off unless asked for, so
# `check --deploy` is told that this is deliberate.
SECURE_HSTS_PRELOAD = env_bool("SAFEROOM_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "security.W021"]
# Content-Security-Policy and Permissions-Policy (saferoom.core.security): nothing inline,
# nothing from another origin. Reports of violations go to the browser's console.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "media-src": ["'self'"],
    "manifest-src": ["'self'"],
    "worker-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-src": ["'none'"],
    "frame-ancestors": ["'none'"],
}

# Bulk-extraction guard (saferoom.core.ratelimit): per person, in a sliding window. A busy desk
# searches once per arrival and opens a few records; these are several times that at its peak.
RATE_LIMIT_WINDOW_MINUTES = env_int("SAFEROOM_RATE_LIMIT_WINDOW_MINUTES", 10)
RATE_LIMIT_SEARCHES = env_int("SAFEROOM_RATE_LIMIT_SEARCHES", 60)
RATE_LIMIT_RECORD_VIEWS = env_int("SAFEROOM_RATE_LIMIT_RECORD_VIEWS", 120)
# Break-glass (saferoom.core.breakglass): how long emergency access to one client's history at
# every site of the network lasts.
BREAK_GLASS_MINUTES = env_int("SAFEROOM_BREAK_GLASS_MINUTES", 30)

LANGUAGE_CODE = "en-gb"
LANGUAGES = [("en-gb", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
# The server's default zone; each site keeps its own time zone for its local calendar.
TIME_ZONE = env_str("SAFEROOM_TIME_ZONE", "Europe/London")

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("SAFEROOM_STATIC_ROOT", str(VAR_DIR / "static")))
# saferoom/static is not inside an app, so the finders must be told where it is.
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Idempotency keys are kept this long; a replay after that is treated as a new submission.
IDEMPOTENCY_KEY_TTL_HOURS = env_int("SAFEROOM_IDEMPOTENCY_TTL_HOURS", 72)
# A tablet's late taps are recorded at their own time for 48 hours (saferoom.core.tap_time):
# their keys must outlive that, or a tap sent again after its key is gone is recorded twice.
if IDEMPOTENCY_KEY_TTL_HOURS <= 48:
    raise ImproperlyConfigured(
        "SAFEROOM_IDEMPOTENCY_TTL_HOURS must be more than 48 (hours): a tablet's offline "
        "records are accepted for 48 hours, and their keys must be remembered longer."
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "saferoom.core.middleware.RequestIdFilter"}},
    "formatters": {
        # An exception is logged as its type and stack, never its message (which may hold
        # what someone typed): saferoom.core.security.NoExceptionMessageFormatter.
        "plain": {
            "()": "saferoom.core.security.NoExceptionMessageFormatter",
            "format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("SAFEROOM_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's request logger would print the URL and, for errors, local variables.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        # The audit chain's anchors (saferoom.core.audit_anchor) are shipped off the machine
        # from the log, so they are written whatever SAFEROOM_LOG_LEVEL says.
        "saferoom.audit.anchor": {"level": "INFO"},
    },
}

# Where SessionLifetimeMiddleware sends someone whose session has ended.
LOGIN_URL_PATH = "/login/"
# In development and tests, serve static files straight from the apps (no collectstatic).
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
