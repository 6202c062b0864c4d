"""Job locks (node.locks) and exclusive jobs (node.jobs.run_periodically) on both backends."""

from __future__ import annotations

import asyncio

from node.app import create_app
from node.clock import ManualClock
from node.db import Database
from node.jobs import Job, run_periodically
from node.locks import JobLocks, advisory_key, job_lock
from node.secrets import NodeSecrets
from node.settings import Settings


def test_a_held_job_lock_is_refused_to_a_second_holder_until_released(db: Database) -> None:
    other = Database(db.url)  # on PostgreSQL: another session, as another process has
    try:
        with job_lock(db, "expiry") as first:
            assert first
            with job_lock(other, "expiry") as second:
                assert not second
            with job_lock(other, "retention") as unrelated:
                assert unrelated
        with job_lock(other, "expiry") as again:
            assert again
    finally:
        other.dispose()


def test_a_lock_is_released_when_the_job_raises(db: Database) -> None:
    try:
        with job_lock(db, "program") as held:
            assert held
            raise RuntimeError("the job failed")
    except RuntimeError:
        pass
    with job_lock(db, "program") as held:
        assert held


def test_advisory_keys_are_stable_and_distinct() -> None:
    names = ["expiry", "program", "webhooks", "retention", "settlement"]
    assert len({advisory_key(name) for name in names}) == len(names)
    assert advisory_key("expiry") == advisory_key("expiry")
    assert all(-(2**63) <= advisory_key(name) < 2**63 for name in names)


def test_two_processes_runs_of_an_exclusive_job_never_overlap(
    settings: Settings, db: Database, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    """Two "processes" (each its own Database and locks) run one job; runs are disjoint."""
    node = create_app(settings, clock=clock, secrets=node_secrets, database=db).state.node
    runs: list[tuple[str, str]] = []  # ("start"|"end", process)
    done = asyncio.Event()

    def job_for(process: str) -> Job:
        async def run(_node: object) -> None:
            runs.append(("start", process))
            await asyncio.sleep(0.05)  # long enough for the other process to try
            runs.append(("end", process))
            if len(runs) >= 12:
                done.set()

        return Job("retention", 0.02, run)  # type: ignore[arg-type]

    async def main() -> None:
        databases = [Database(db.url), Database(db.url)]
        stopping = asyncio.Event()
        tasks = [
            asyncio.create_task(
                run_periodically(node, job_for(name), locks=JobLocks(database), stopping=stopping)
            )
            for name, database in zip(("a", "b"), databases, strict=True)
        ]
        await asyncio.wait_for(done.wait(), timeout=60)
        stopping.set()
        await asyncio.gather(*tasks)
        for database in databases:
            database.dispose()

    asyncio.run(main())
    # Strictly alternating start/end: no run began while another was running.
    kinds = [kind for kind, _ in runs]
    assert kinds == ["start", "end"] * (len(runs) // 2)
    assert all(runs[i][1] == runs[i + 1][1] for i in range(0, len(runs), 2))


def test_a_shared_job_runs_in_every_process(
    settings: Settings, db: Database, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    node = create_app(settings, clock=clock, secrets=node_secrets, database=db).state.node
    seen: set[str] = set()

    def job_for(process: str) -> Job:
        async def run(_node: object) -> None:
            seen.add(process)
            await asyncio.sleep(0.05)

        return Job("federation", 0.02, run, exclusive=False)  # type: ignore[arg-type]

    async def main() -> None:
        stopping = asyncio.Event()
        tasks = [
            asyncio.create_task(
                run_periodically(node, job_for(name), locks=JobLocks(db), stopping=stopping)
            )
            for name in ("a", "b")
        ]
        await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        stopping.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert seen == {"a", "b"}
