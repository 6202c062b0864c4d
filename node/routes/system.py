"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from starlette.responses import Response

from node.errors import SchemaError
from node.metrics import CONTENT_TYPE_LATEST
from node.migrate import check_schema
from node.routes.endpoint import Call, Endpoint, json_response


async def healthz(call: Call) -> Response:
    """The process is up (liveness)."""
    return json_response({"status": "ok"})


async def readyz(call: Call) -> Response:
    """The database answers and its schema is the one this code needs (readiness)."""
    try:
        await call.run(check_schema, call.node.db.engine)
    except SchemaError as exc:
        return json_response({"status": "unavailable", "reason": exc.message}, 503)
    except Exception:
        return json_response({"status": "unavailable", "reason": "database unreachable"}, 503)
    return json_response({"status": "ready", "node_id": call.node.settings.node_id})


async def metrics(call: Call) -> Response:
    """Prometheus text exposition."""
    return Response(call.node.metrics.render(), media_type=CONTENT_TYPE_LATEST)


async def openapi(call: Call) -> Response:
    """This document."""
    return json_response(call.request.app.state.openapi)


ENDPOINTS = [
    Endpoint("GET", "/healthz", healthz, "Liveness", "none", "system"),
    Endpoint("GET", "/readyz", readyz, "Readiness", "none", "system", errors=(503,)),
    Endpoint("GET", "/metrics", metrics, "Prometheus metrics", "none", "system"),
    Endpoint("GET", "/openapi.json", openapi, "OpenAPI document", "none", "system"),
]
