"""The Art. 30 record of processing activities (operator API)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import PlainTextResponse, Response

from node.routes.endpoint import Call, Endpoint, json_response
from node.services import processing_records


class RecordsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["json", "markdown"] = Field("json", description="json or markdown.")


async def get_records(call: Call) -> Response:
    node = call.node
    record = await call.run(
        processing_records.records_of_processing,
        node.db,
        node.settings,
        node.federation,
        now=node.clock.now(),
    )
    if call.query.format == "markdown":
        return PlainTextResponse(
            processing_records.as_markdown(record), media_type="text/markdown; charset=utf-8"
        )
    return json_response(record)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/privacy/records-of-processing",
        get_records,
        "The record of processing activities (GDPR Art. 30), from the node's configuration",
        "operator",
        "privacy",
        query=RecordsQuery,
        errors=(422,),
    ),
]
