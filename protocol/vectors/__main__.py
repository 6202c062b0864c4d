"""``python -m protocol.vectors [PATH]``: write the vectors (default docs/protocol-vectors.json)."""

from __future__ import annotations

import sys

from protocol.vectors import generate_vectors, render


def main(argv: list[str]) -> int:
    path = argv[0] if argv else "docs/protocol-vectors.json"
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(render(generate_vectors()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
