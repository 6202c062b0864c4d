"""What every request handler and job needs: settings, database, keys, clock."""

from __future__ import annotations

from dataclasses import dataclass

from node.clock import Clock
from node.db import Database
from node.metrics import Metrics
from node.secrets import NodeSecrets
from node.services.apikeys import ApiKeyCache
from node.services.federation import Federation
from node.settings import Settings


@dataclass(frozen=True)
class NodeContext:
    settings: Settings
    db: Database
    secrets: NodeSecrets
    clock: Clock
    metrics: Metrics
    api_keys: ApiKeyCache
    federation: Federation
