"""Errors the node raises on purpose, and the one place they map to HTTP.

    KonsortError                      code, message, field, http_status
    ├── ConfigurationError            settings or files are wrong (CLI exits 2)
    ├── SchemaError                   database missing, behind or ahead of this code
    ├── RequestError (400)            malformed request: bad JSON, missing header
    │   ├── ValidationFailed (422)    a field is missing, unknown or out of range
    │   ├── PayloadTooLarge (413)
    │   └── UnsupportedMediaType (415)
    ├── Unauthenticated (401)         no or bad credentials
    ├── Forbidden (403)
    │   ├── ConsentRequired           the member has not granted the purpose
    │   └── ProcessingRestricted      processing is restricted (GDPR Art. 18)
    ├── NotFound (404)
    ├── Conflict (409)
    │   ├── IdempotencyConflict       same key, different request
    │   └── InsufficientPoints        balance would go negative
    └── LedgerInvariantError          `konsort ledger verify` found a violation

Every HTTP error body is ``{"error": {"code", "message", "field"}}``; messages
never carry personal data.
"""

from __future__ import annotations

from typing import Any


class KonsortError(Exception):
    code = "internal_error"
    http_status = 500

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class ConfigurationError(KonsortError):
    code = "configuration_error"


class SchemaError(KonsortError):
    code = "schema_error"
    http_status = 503


class RequestError(KonsortError):
    code = "bad_request"
    http_status = 400


class ValidationFailed(RequestError):
    code = "validation_failed"
    http_status = 422


class PayloadTooLarge(RequestError):
    code = "payload_too_large"
    http_status = 413


class UnsupportedMediaType(RequestError):
    code = "unsupported_media_type"
    http_status = 415


class Unauthenticated(KonsortError):
    code = "unauthenticated"
    http_status = 401


class Forbidden(KonsortError):
    code = "forbidden"
    http_status = 403


class NotFound(KonsortError):
    code = "not_found"
    http_status = 404


class Conflict(KonsortError):
    code = "conflict"
    http_status = 409


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"


class InsufficientPoints(Conflict):
    code = "insufficient_points"


class LedgerInvariantError(KonsortError):
    code = "ledger_invariant_violated"


class ConsentRequired(Forbidden):
    """The member has not granted (or has withdrawn) the purpose; ``field`` names it."""

    code = "consent_required"


class ProcessingRestricted(Forbidden):
    """Processing of the member's data is restricted (GDPR Art. 18); ``field`` names the purpose."""

    code = "processing_restricted"
