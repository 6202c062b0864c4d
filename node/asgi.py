"""Entry point for ASGI servers: ``uvicorn --factory node.asgi:app_factory``.

Settings come from ``KONSORT_*`` variables and the file ``KONSORT_CONFIG`` names.
"""

from __future__ import annotations

from starlette.applications import Starlette

from node.app import create_app
from node.logs import configure_logging
from node.settings import load_settings


def app_factory() -> Starlette:
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
