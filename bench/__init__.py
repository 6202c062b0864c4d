"""Benchmarks: ``python -m bench`` (``make bench``) prints the node's rates beside the ceiling.

Modules: ``harness`` (options, progress, rows), ``load`` (the load generator,
run as its own process), ``ceiling`` (the bare Starlette server and its rows),
``node_bench`` (one ``konsort serve`` node), ``report`` (the table and JSON).
``protocol_bench`` measures signing and verifying without any I/O.
"""

from __future__ import annotations

from bench.harness import Bench, Options, Suite
from bench.load import LoadResult, LoadSpec
from bench.report import Row, Table

__all__ = ["Bench", "LoadResult", "LoadSpec", "Options", "Row", "Suite", "Table"]
