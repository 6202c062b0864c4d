"""The protocol benchmark runs and reports every figure."""

from __future__ import annotations

from bench.protocol_bench import run


def test_bench_reports_rates_and_ratios() -> None:
    result = run(duration=0.2)
    assert set(result) == {
        "raw_sign_per_s",
        "sign_per_s",
        "raw_verify_per_s",
        "verify_per_s",
        "sign_ratio",
        "verify_ratio",
        "token_bytes",
    }
    assert all(value > 0 for value in result.values())
    # No bound on any figure here: speed belongs to `make bench`, never to an
    # assertion (a bound on verify_ratio failed on a loaded machine).
    assert result["token_bytes"] == int(result["token_bytes"])
