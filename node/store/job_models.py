"""Table of the admin UI's long actions: one row per background job (a retention
run, a big export), so any process of the node can show its progress.

No personal data: parameters are dates and flags, the actor an opaque staff id,
a result a file of opaque ids (the ledger CSV) or a reference to a run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from node.store.models import BigId, _time


class BackgroundJob(SQLModel, table=True):
    """One long action started from the admin UI, its progress and its result."""

    __tablename__ = "background_job"
    __table_args__ = (Index("ix_background_job_state", "state", "created_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    #: What it does (node.services.background_jobs.KINDS).
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    #: JSON parameters of the kind (dates, flags; never personal data).
    params: str = Field(sa_column=Column(Text, nullable=False))
    #: queued | running | done | failed
    state: str = Field(sa_column=Column(String(12), nullable=False))
    done: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    #: 0 while not yet known.
    total: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    #: ``staff:<id>`` of who started it.
    actor: str = Field(sa_column=Column(String(60), nullable=False))
    created_at: datetime = Field(sa_column=_time())
    started_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    #: Refreshed with each progress step; a running job silent for long is stale.
    heartbeat_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    #: The error class when it failed (never personal data).
    error: str | None = Field(default=None, sa_column=Column(String(200)))
    #: An id the result page links to (a retention run), or None.
    result_ref: str | None = Field(default=None, sa_column=Column(String(40)))
    #: A result file (the ledger CSV), its name and media type.
    result: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    result_name: str | None = Field(default=None, sa_column=Column(String(120)))
    result_type: str | None = Field(default=None, sa_column=Column(String(80)))
