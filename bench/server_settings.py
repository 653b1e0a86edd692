"""Settings for the server the load benchmark starts (bench/load.py): the benchmark's own
(production-like, plain HTTP on loopback) with saferoom's production logging, so that a server
error during a load run leaves its stack (never its message) in the server's log, at WARNING
and above so that the log does not slow the run."""

from __future__ import annotations

import copy
from typing import Any

from bench.settings import *  # noqa: F403
from saferoom import settings as production

_logging: dict[str, Any] = copy.deepcopy(production.LOGGING)
_logging["root"] = {"handlers": ["console"], "level": "WARNING"}
LOGGING = _logging
