"""How a route is declared once and gets parsing, auth, errors, logs and metrics.

Each route module lists :class:`Endpoint` objects. An endpoint names its method,
path, authentication, body/query models and response model; the same
declaration builds the Starlette route and the OpenAPI document, so the two
cannot drift apart. Errors become JSON here and only here
(``{"error": {"code", "message", "field"}}``).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from node.context import NodeContext
from node.errors import (
    KonsortError,
    PayloadTooLarge,
    RequestError,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from node.services.idempotency import Answer
from node.services.tokens import verify_customer_token

log = logging.getLogger("konsort.http")

Auth = Literal["operator", "customer", "none"]
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


@dataclass
class Call:
    """What a handler gets: the request, the node, the caller and the parsed input."""

    request: Request
    node: NodeContext
    principal: str | None
    body: Any = None
    query: Any = None

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def idempotency_key(self) -> str:
        """The request's Idempotency-Key, scoped to the caller (each API key has its own)."""
        key = self.request.headers.get("idempotency-key")
        if key is None:
            raise RequestError(
                "writes need an Idempotency-Key header (any unique string, e.g. a UUID)",
                field="Idempotency-Key",
                code="idempotency_key_missing",
            )
        if not IDEMPOTENCY_KEY.match(key):
            raise RequestError(
                "Idempotency-Key must be 1-200 printable ASCII characters",
                field="Idempotency-Key",
            )
        return f"{self.principal}:{key}"

    async def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run blocking service code off the event loop."""
        return await run_in_threadpool(func, *args, **kwargs)


Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    auth: Auth
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    idempotent: bool = False
    errors: tuple[int, ...] = field(default=())

    def route(self) -> Route:
        # An ASGI callable, not a function: Starlette then skips its per-request
        # request/response wrapper (this endpoint already turns every error
        # into a response).
        return Route(
            self.path, _AsgiEndpoint(self), methods=[self.method], name=self.handler.__name__
        )

    async def _serve(self, request: Request) -> Response:
        node: NodeContext = request.app.state.node
        started = time.perf_counter()
        try:
            call = Call(request, node, await self._authenticate(request, node))
            if self.body is not None:
                call.body = _validate_json(self.body, await read_body(request, node))
            if self.query is not None:
                call.query = _validate(self.query, dict(request.query_params))
            response = await self.handler(call)
        except KonsortError as exc:
            response = error_response(exc)
        except Exception:
            log.exception("unhandled error", extra={"route": self.path, "method": self.method})
            response = error_response(KonsortError("internal error"))
        elapsed = time.perf_counter() - started
        node.metrics.observe_request(self.method, self.path, response.status_code, elapsed)
        if node.settings.log_level == "DEBUG" or response.status_code >= 500:
            log.info(
                "request",
                extra={
                    "method": self.method,
                    "route": self.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
        return response

    async def _authenticate(self, request: Request, node: NodeContext) -> str | None:
        if self.auth == "none":
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("send an `Authorization: Bearer <token>` header")
        if self.auth == "operator":
            token = token.strip()
            cached = node.api_keys.lookup(token)
            if cached is not None:
                return cached
            return str(await run_in_threadpool(node.api_keys.authenticate, node.db, token))
        return verify_customer_token(
            node.secrets, token.strip(), node_id=node.settings.node_id, now=node.clock.now()
        )


class _AsgiEndpoint:
    __slots__ = ("endpoint",)

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.endpoint._serve(Request(scope, receive))
        await response(scope, receive, send)


def error_response(exc: KonsortError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    return JSONResponse(exc.to_body(), status_code=exc.http_status, headers=headers)


def answer_response(answer: Answer) -> Response:
    """An idempotent write's answer, marked ``Idempotent-Replayed`` when it is a replay."""
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    if answer.encoded is not None:
        return Response(
            answer.encoded, answer.status_code, headers=headers, media_type="application/json"
        )
    return json_response(answer.body, answer.status_code, **headers)


def json_response(body: BaseModel | dict[str, Any], status: int = 200, **headers: str) -> Response:
    if isinstance(body, BaseModel):
        content = body.model_dump_json().encode()
    else:
        content = json.dumps(body, separators=(",", ":")).encode()
    return Response(content, status_code=status, media_type="application/json", headers=headers)


async def read_body(request: Request, node: NodeContext) -> bytes:
    """The raw request body, refusing oversized or non-JSON bodies before parsing."""
    limit = node.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request bodies are limited to {limit} bytes")
    media = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if media != "application/json":
        raise UnsupportedMediaType("send the body as application/json", field="Content-Type")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request bodies are limited to {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _validate_json(model: type[BaseModel], raw: bytes) -> BaseModel:
    """Parse and validate in one pass (pydantic-core reads the JSON itself)."""
    if not raw.strip():
        return _validate(model, {})
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        kind = exc.errors(include_url=False, include_input=False)[0]["type"]
        if kind == "json_invalid":
            raise RequestError("the body is not valid JSON", code="invalid_json") from None
        if kind in ("model_type", "model_attributes_type", "dict_type"):
            raise ValidationFailed("the body must be a JSON object") from None
        raise _validation_failed(exc) from None


def _validate(model: type[BaseModel], data: Any) -> BaseModel:
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_failed(exc) from None


def _validation_failed(exc: ValidationError) -> ValidationFailed:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or None
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "string_pattern_mismatch":
        message = "contains characters or a format that is not allowed"
    return ValidationFailed(f"{where}: {message}" if where else message, field=where)
