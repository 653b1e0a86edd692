"""How the API says no: one JSON shape for every error, a status that says what kind of no,
and never a client code or a submitted value echoed back.

    {"detail": "what went wrong and what to do", "code": "machine_readable",
     "field": "the field at fault, when there is one", "errors": [{"field", "message"}, ...]}
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, HttpError, ValidationError

from saferoom.clients.codes import DISPLAY_ALPHABET
from saferoom.core import audit
from saferoom.core.errors import ActionRefused
from saferoom.core.middleware import current_request_id
from saferoom.core.versioning import StaleEdit

if TYPE_CHECKING:
    from ninja import NinjaAPI

logger = logging.getLogger("saferoom.api")

# A client's display code (K7F-29Q) anywhere in a message. Actions' messages name the person
# by code for the desk's screen; an API answer may end up in an integration's logs.
_CODE = re.compile(rf"\b[{DISPLAY_ALPHABET}]{{3}}-[{DISPLAY_ALPHABET}]{{3}}\b")


def scrub(message: str) -> str:
    """``message`` with every client code replaced by "the client"."""

    def replace(match: re.Match[str]) -> str:
        before = message[: match.start()].rstrip()
        starts_sentence = not before or before.endswith((".", ":", "!", "?"))
        return _("The client") if starts_sentence else _("the client")

    return _CODE.sub(replace, message)


class ApiError(Exception):
    """An answer other than success, raised anywhere in an operation."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        current_version: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = headers or {}
        self.current_version = current_version


# Refusals about the idempotency key itself rather than the record.
_KEY_CONFLICTS = {
    "key_reused": lambda: _(
        "This Idempotency-Key was already used with a different request (or for another "
        "kind of record). Nothing was written. Send a new key for a new record; resend the "
        "first request unchanged to get its answer."
    ),
    "in_flight": lambda: _(
        "A request with this Idempotency-Key is still being saved. Wait a moment and send it "
        "again unchanged."
    ),
}


def from_refusal(refusal: ActionRefused, fields: dict[str, str] | None = None) -> ApiError:
    """The API answer for a refused action: 409 when the key was reused with other details
    (or is in flight), or when an edit was made from a version of the record that is no longer
    the saved one (``stale_edit``, with ``current_version`` and an ``ETag`` to send back as
    ``If-Match`` once merged); else 422 with the action's own message and code, naming the field
    the refusal is about when the operation knows it."""
    if isinstance(refusal, StaleEdit):
        return ApiError(
            409,
            refusal.code,
            _(
                "Someone else changed this record since the version you edited. Nothing was "
                "written. Fetch it again, merge your change into it, and send it with its "
                "current version."
            ),
            headers={"ETag": f'"{refusal.current}"'},
            current_version=refusal.current,
        )
    if refusal.code in _KEY_CONFLICTS:
        code = "idempotency_key_reused" if refusal.code == "key_reused" else "in_flight"
        return ApiError(409, code, _KEY_CONFLICTS[refusal.code]())
    return ApiError(
        422, refusal.code, scrub(refusal.message), field=(fields or {}).get(refusal.code)
    )


def _body(
    code: str,
    detail: str,
    field: str | None = None,
    errors: list[dict[str, str]] | None = None,
    current_version: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": scrub(detail), "code": code}
    if field:
        body["field"] = field
    if errors:
        body["errors"] = errors
    if current_version is not None:
        body["current_version"] = current_version
    return body


def _field(loc: list[Any]) -> str:
    """``["body", "payload", "interventions", 0, "at"]`` → ``interventions[0].at``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        source = parts.pop(0)
        if source == "body" and parts and parts[0] == "payload":
            parts.pop(0)
        if source == "body" and not parts:
            return "body"
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def install(api: NinjaAPI) -> None:
    """Give ``api`` the handlers that answer in the shape above."""

    def respond(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
        return api.create_response(request, body, status=status)

    @api.exception_handler(ApiError)
    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        body = _body(exc.code, exc.detail, exc.field, current_version=exc.current_version)
        response = respond(request, exc.status, body)
        for name, value in exc.headers.items():
            response[name] = value
        return response

    @api.exception_handler(AuthenticationError)
    def not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = respond(request, 401, _body("not_authenticated", exc.message))
        response["WWW-Authenticate"] = 'Bearer realm="saferoom"'
        return response

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 400:
            # Ninja's "Cannot parse request body" (with the parser's words in DEBUG).
            detail = _("The body must be a JSON object, sent as Content-Type: application/json.")
            return respond(request, 400, _body("bad_request", detail, "body"))
        return respond(request, exc.status_code, _body(f"http_{exc.status_code}", exc.message))

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        # Pydantic's messages only: never its "input" (it may hold a client code).
        errors = [
            {"field": _field(list(error.get("loc", ()))), "message": str(error.get("msg", ""))}
            for error in exc.errors
        ]
        first = errors[0] if errors else {"field": "", "message": ""}
        detail = (
            _("%(field)s: %(message)s") % {"field": first["field"], "message": first["message"]}
            if first["field"]
            else first["message"] or _("The request could not be read.")
        )
        return respond(request, 422, _body("invalid", detail, first["field"] or None, errors))

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        audit.record_refusal(request, 404)
        return respond(request, 404, _body("not_found", _("Not found.")))

    @api.exception_handler(PermissionDenied)
    def forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        detail = _("Your role does not allow this here.")
        audit.record_refusal(request, 403)
        return respond(request, 403, _body("forbidden", detail))

    @api.exception_handler(SuspiciousOperation)
    def suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
        # Too large a body, too many fields: refused before anything is read.
        return respond(request, 400, _body("bad_request", _("The request could not be read.")))

    @api.exception_handler(ActionRefused)
    def refused(request: HttpRequest, exc: ActionRefused) -> HttpResponse:
        return api_error(request, from_refusal(exc))

    @api.exception_handler(Exception)
    def server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("API operation failed")
        body = _body(
            "server_error",
            _("Something went wrong on the server. Quote the request id when you report it."),
        )
        body["request_id"] = current_request_id()
        return respond(request, 500, body)
