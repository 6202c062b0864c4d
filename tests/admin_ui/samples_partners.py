"""Empty and full sample contexts for the operator's partners templates (samples.py merges them)."""

from __future__ import annotations

from typing import Any

SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
