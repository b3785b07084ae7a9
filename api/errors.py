"""Every error the API answers with, mapped to HTTP in this one module.

    ApiError (this module)                 status
    ├── Unauthorized                        401  no key, or a malformed, unknown or revoked one
    ├── Forbidden                           403  the key's role or bound source does not allow it
    ├── NotFound                            404  no such event, incident, seq or checkpoint
    ├── PayloadTooLarge                     413  body over the route's documented limit
    ├── UnsupportedMediaType                415  body that is not application/json
    ├── InvalidEvents                       422  one or more events of a batch are malformed
    ├── InvalidParameters                   422  query parameters that contradict the log (field-level)
    └── NoSigningKey                        503  a checkpoint is needed and the server has no signing key

    ledger.errors (the core's family; Starlette finds handlers along the class hierarchy)
    ├── InvalidEvent                        422  field-level: index, loc, msg
    ├── EventConflict                       409  same event_id, other content
    ├── ErasureRefused                      409  a legal hold covers the subject, or nothing to erase
    ├── InputError (any other)              422
    ├── IntegrityError                      500  an integrity alarm (logged at error level): e.g. the
    │                                            ledger refuses to sign a checkpoint inconsistent with its last
    ├── StoreUnavailable                    503  with Retry-After
    └── KeyNotConfigured                    500  the server lacks a master key it needs (logged at error
                                                 level); retrying will not help until the operator sets it

    FastAPI's RequestValidationError        422  parameters and declared bodies: field and rule, never the
                                                 input (an unknown key is placed at its object)
    Starlette's HTTPException               its status (404 unknown route, 405 method)
    └── InvalidBody (this module)           422  a declared JSON body with a key given twice
    anything else                           500  no traceback, no message: see the log's request_id

On the FHIR routes (``/fhir``) every error is a FHIR OperationOutcome instead (api.interop.outcome),
its issues' ``expression`` naming the element at fault.

No message carries a value from the request: values may be patient identifiers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ExceptionHandler

from api.interop import outcome
from api.models import Problem
from ledger.erasure import ErasureRefused
from ledger.errors import (
    EventConflict,
    FieldError,
    InputError,
    IntegrityError,
    InvalidEvent,
    KeyNotConfigured,
    StoreUnavailable,
)

log = logging.getLogger("api.errors")

MAX_REPORTED = 100  # field errors listed in one 422


class ApiError(Exception):
    """An error with its HTTP status and machine code."""

    status = 400
    code = "bad_request"
    headers: dict[str, str] = {}  # noqa: RUF012 - class default, never mutated

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(ApiError):
    """No usable API key."""

    status = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="ledger"'}  # noqa: RUF012


class Forbidden(ApiError):
    """The key may not do this."""

    status = 403
    code = "forbidden"


class NotFound(ApiError):
    """Nothing at this id."""

    status = 404
    code = "not_found"


class PayloadTooLarge(ApiError):
    """Body over the limit."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    """Body that is not JSON."""

    status = 415
    code = "unsupported_media_type"


class InvalidEvents(ApiError):
    """Events of a batch that fail the catalogue, each with its index."""

    status = 422
    code = "invalid_event"

    def __init__(self, failures: Iterable[InvalidEvent]) -> None:
        self.failures = list(failures)
        count = len(self.failures)
        plural = "s" if count != 1 else ""
        super().__init__(f"{count} event{plural} of the batch failed validation; nothing was appended")


class InvalidParameters(ApiError):
    """Query parameters that are well-formed but do not fit the log (a size past its head, ...)."""

    status = 422
    code = "invalid_parameter"

    def __init__(self, *errors: FieldError) -> None:
        self.errors = list(errors)
        super().__init__("a path or query parameter is not valid")


class InvalidBody(StarletteHTTPException):
    """A declared JSON body refused before FastAPI validates it (a key given twice); an HTTPException
    because FastAPI's body reading lets only those through unchanged."""

    def __init__(self, error: FieldError) -> None:
        super().__init__(422, "the request body is not valid")
        self.error = error


class NoSigningKey(ApiError):
    """A checkpoint must be signed and the server has no active signing key."""

    status = 503
    code = "no_signing_key"


# Messages for FastAPI's own validation of parameters and bodies: its texts may echo the input,
# so each is rewritten from the error's type and its ctx (the schema's limits, never the input).
_PARAM_MESSAGES = {
    "uuid_parsing": "must be a UUID",
    "uuid_type": "must be a UUID",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "string_unicode": "must be valid Unicode text",
    "dict_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "json_invalid": "the body is not valid JSON",
    "missing": "field required",
    "extra_forbidden": "unknown field",
}
_LIMIT_MESSAGES = {
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "string_too_short": "must have at least {min_length} characters",
    "string_too_long": "must have at most {max_length} characters",
    "string_pattern_mismatch": "must match {pattern}",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
}


def _param_message(kind: str, ctx: dict[str, Any]) -> str:
    template = _LIMIT_MESSAGES.get(kind)
    if template is not None:
        try:
            return template.format(**{k: str(v).replace("'", "") for k, v in ctx.items()})
        except KeyError:
            return "is not valid"
    return _PARAM_MESSAGES.get(kind, "is not valid")


def _param_location(loc: tuple[Any, ...], kind: str) -> str:
    """Where the error is, without any key the client invented (an unknown field is placed at its object)."""
    parts = [part for part in loc if part not in ("path", "query", "header", "body")]
    if kind in ("extra_forbidden", "json_invalid"):
        parts = parts[:-1]  # the unknown key's name, or the offset pydantic gives in the body's text
    return ".".join(str(part) for part in parts)


def request_id(request: Request) -> str:
    """The request's id (set by the logging middleware)."""
    return str(getattr(request.state, "request_id", "-"))


def problem(
    request: Request, status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """An error response in the one shape every error has (``Problem``); on the FHIR routes, an OperationOutcome."""
    fields = getattr(request.state, "log_fields", None)
    if isinstance(fields, dict):
        fields["error"] = code
    if outcome.is_fhir_path(request.url.path):
        issues = outcome.operation_outcome(status, message, extra.get("errors") or ())
        return JSONResponse(issues, status_code=status, headers=headers, media_type=outcome.FHIR_JSON)
    body = Problem(code=code, message=message, request_id=request_id(request), **extra)
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _field_problems(failures: Iterable[InvalidEvent]) -> list[dict[str, Any]]:
    found = [{"index": f.index, "loc": e.loc, "msg": e.msg} for f in failures for e in f.errors]
    return found[:MAX_REPORTED]


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    if isinstance(exc, InvalidEvents):
        return problem(request, exc.status, exc.code, exc.message, errors=_field_problems(exc.failures))
    if isinstance(exc, InvalidParameters):
        errors = [{"index": None, "loc": e.loc, "msg": e.msg} for e in exc.errors]
        return problem(request, exc.status, exc.code, exc.message, errors=errors)
    return problem(request, exc.status, exc.code, exc.message, headers=exc.headers or None)


async def _invalid_event(request: Request, exc: InvalidEvent) -> JSONResponse:
    where = "the event" if exc.index is None else f"event {exc.index}"
    message = f"{where} failed validation; nothing was appended"
    return problem(request, 422, "invalid_event", message, errors=_field_problems([exc]))


async def _conflict(request: Request, exc: EventConflict) -> JSONResponse:
    index = getattr(exc, "batch_index", None)
    return problem(request, 409, "event_conflict", str(exc), event_id=exc.event_id, seq=exc.seq, index=index)


async def _erasure_refused(request: Request, exc: ErasureRefused) -> JSONResponse:
    # A legal hold, or nothing left to erase: the request conflicts with the ledger's state.
    return problem(request, 409, "erasure_refused", str(exc))


async def _input_error(request: Request, exc: Exception) -> JSONResponse:
    return problem(request, 422, "invalid_input", str(exc))


async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
    # An alarm, not a routine error: logged at error level by type name; the exception's text is not returned.
    fields = {"request_id": request_id(request), "exc_type": type(exc).__name__}
    log.error("integrity alarm", extra={"fields": fields})
    message = "the ledger failed an integrity check and refused; the operator is alerted (see the server log)"
    return problem(request, 500, "integrity_failure", message)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    retry_after = str(request.app.state.settings.retry_after_s)
    message = "the ledger's database is unavailable; retry with the same event_id"
    return problem(request, 503, "store_unavailable", message, headers={"Retry-After": retry_after})


async def _not_configured(request: Request, exc: KeyNotConfigured) -> JSONResponse:
    # The operator's to fix (a master key file or variable), not the client's and not an integrity alarm.
    fields = {"request_id": request_id(request), "exc_type": type(exc).__name__, "error": str(exc)}
    log.error("master key not configured", extra={"fields": fields})
    message = "the server is missing a master key it needs for this data; the operator must configure it"
    return problem(request, 500, "key_not_configured", message)


async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    failures = []
    in_body = False
    for error in exc.errors():
        kind, loc = str(error.get("type")), tuple(error.get("loc", ()))
        in_body = in_body or loc[:1] == ("body",)
        failures.append(FieldError(_param_location(loc, kind), _param_message(kind, error.get("ctx") or {})))
    errors = [{"index": None, "loc": f.loc, "msg": f.msg} for f in failures[:MAX_REPORTED]]
    if in_body:
        return problem(request, 422, "invalid_body", "the request body is not valid", errors=errors)
    return problem(request, 422, "invalid_parameter", "a path or query parameter is not valid", errors=errors)


async def _invalid_body(request: Request, exc: InvalidBody) -> JSONResponse:
    errors = [{"index": None, "loc": exc.error.loc, "msg": exc.error.msg}]
    return problem(request, 422, "invalid_body", "the request body is not valid", errors=errors)


async def _http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400:  # FastAPI could not parse a declared body (e.g. not UTF-8): malformed input
        return problem(request, 422, "invalid_body", "the body is not valid JSON", errors=[])
    codes = {404: "not_found", 405: "method_not_allowed"}
    messages = {404: "no such route", 405: "method not allowed on this route"}
    code = codes.get(exc.status_code, "http_error")
    message = messages.get(exc.status_code, "request refused")
    return problem(request, exc.status_code, code, message, headers=dict(exc.headers or {}) or None)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The exception's message may hold anything; only its type is logged (with the request id).
    fields = {"request_id": request_id(request), "exc_type": type(exc).__name__}
    log.error("unhandled exception", extra={"fields": fields})
    return problem(request, 500, "internal_error", "internal error; the request id identifies it in the server log")


HANDLERS: dict[type[Exception], Callable[..., Awaitable[JSONResponse]]] = {
    ApiError: _api_error,
    InvalidEvent: _invalid_event,
    EventConflict: _conflict,
    ErasureRefused: _erasure_refused,
    InputError: _input_error,
    IntegrityError: _integrity,
    StoreUnavailable: _unavailable,
    KeyNotConfigured: _not_configured,
    RequestValidationError: _request_validation,
    InvalidBody: _invalid_body,
    StarletteHTTPException: _http_exception,
    Exception: _unexpected,
}


def install(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    for exc_class, handler in HANDLERS.items():
        # Each handler takes the class it is registered for; Starlette types them all as Exception.
        app.add_exception_handler(exc_class, cast(ExceptionHandler, handler))


_DESCRIPTIONS = {
    401: "No API key, or a malformed, unknown or revoked one.",
    403: "The key's role, or the source bound to an emitter key, does not allow this.",
    404: "No such event.",
    409: "The request conflicts with what the ledger holds (same event_id with other content, or an erasure "
    "refused under a legal hold).",
    413: "The body is over the route's limit.",
    415: "The body is not JSON (Content-Type must be application/json).",
    422: "Malformed: the errors list names the event (index), the field (loc) and why (msg).",
    503: "The database is unavailable; retry (with the same event_id) after Retry-After seconds.",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of these error statuses (all with the Problem body)."""
    entries: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": Problem, "description": _DESCRIPTIONS[status]}
        if status == 503:
            entry["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
        if status == 401:
            entry["headers"] = {"WWW-Authenticate": {"description": "Bearer.", "schema": {"type": "string"}}}
        entries[status] = entry
    return entries


class BatchConflict(EventConflict):
    """An EventConflict located at an event of a batch."""

    def __init__(self, conflict: EventConflict, *, index: int) -> None:
        super().__init__(conflict.event_id, seq=conflict.seq)
        self.batch_index = index
