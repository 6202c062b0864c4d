"""Throughput of protocol messages next to raw Ed25519, measured in the same run.

``run(duration)`` measures, for one ``transfer.request``:

* sign/s:   :func:`protocol.sign_message` (body dump, canonical JSON, JWS);
* verify/s: :func:`protocol.verify_message` (every check: header, manifest key
  lookup, signature, claims, body schema, times);
* raw_sign/s and raw_verify/s: cryptography's Ed25519 over the same bytes;

and the ratios full/raw. The machine's speed drifts (other processes, CPU
frequency), so the measurements take turns in short slices: each round times
raw sign, full sign, raw verify and full verify back to back, a ratio is taken
within each round, and every figure reported is the median over the rounds.
``python bench/protocol_bench.py [SECONDS]`` prints them.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from protocol import TransferRequest, convert_points, sign_message, verify_message
from protocol.encoding import b64url_decode
from protocol.vectors.fixtures import VERIFY_AT, manifest, signer, subject

_BATCH = 25
_SLICE_SECONDS = 0.05


def _rate(operation: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``operation`` over about ``seconds``."""
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(_BATCH):
            operation()
        calls += _BATCH
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def run(duration: float = 2.0) -> dict[str, float]:
    """Measure for about ``duration`` seconds; rates per second and ratios."""
    the_manifest = manifest()
    cafe = signer("cafe:k2")
    conversion = convert_points(500, from_value=5, to_value=12)
    body = TransferRequest(
        subject=subject("customer-0001", issuer="bookshop", partner="cafe"),
        sender_points=conversion.sender_points,
        receiver_points=conversion.receiver_points,
        value_minor=conversion.value_minor,
        sender_kept_minor=conversion.sender_kept_minor,
        manifest_version=the_manifest.version,
    )

    def sign() -> str:
        return sign_message(
            body,
            signer=cafe,
            audience="bookshop",
            message_id="01KDBENCH0000000000000000",
            issued_at=VERIFY_AT - 60,
            expires_at=VERIFY_AT + 3600,
        )

    token = sign()
    header, payload, signature_segment = token.split(".")
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = b64url_decode(signature_segment)
    private_key = cafe.private_key
    public_key = private_key.public_key()

    def verify() -> object:
        return verify_message(token, manifest=the_manifest, receiver="bookshop", now=VERIFY_AT)

    operations: dict[str, Callable[[], object]] = {
        "raw_sign_per_s": lambda: private_key.sign(signing_input),
        "sign_per_s": sign,
        "raw_verify_per_s": lambda: public_key.verify(signature, signing_input),
        "verify_per_s": verify,
    }
    for operation in operations.values():  # warm up caches and code paths
        _rate(operation, 0.0)
    slices = max(1, round(duration / (_SLICE_SECONDS * len(operations))))
    seconds = duration / (slices * len(operations))
    samples: dict[str, list[float]] = {name: [] for name in operations}
    samples["sign_ratio"] = []
    samples["verify_ratio"] = []
    for _ in range(slices):
        rates = {name: _rate(operation, seconds) for name, operation in operations.items()}
        for name, rate in rates.items():
            samples[name].append(rate)
        samples["sign_ratio"].append(rates["sign_per_s"] / rates["raw_sign_per_s"])
        samples["verify_ratio"].append(rates["verify_per_s"] / rates["raw_verify_per_s"])
    result = {name: statistics.median(values) for name, values in samples.items()}
    result["token_bytes"] = float(len(token))
    return result


def main(argv: list[str]) -> int:
    duration = float(argv[0]) if argv else 2.0
    result = run(duration)
    for name, value in result.items():
        shown = f"{value:.1%}" if name.endswith("_ratio") else f"{value:,.0f}"
        print(f"{name:18s} {shown:>12s}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
