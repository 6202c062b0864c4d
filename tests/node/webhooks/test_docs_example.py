"""docs/webhooks.md stays true: its receiver example runs, and its sample is the node's."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from node.services.webhook_delivery import sign
from node.services.webhooks import parse_secret

DOC = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"


def python_example() -> str:
    [code] = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    return code


def test_the_receiver_example_verifies_its_own_sample() -> None:
    namespace: dict[str, object] = {}
    exec(compile(python_example(), str(DOC), "exec"), namespace)  # its asserts must hold
    assert callable(namespace["verify"])


def test_the_sample_request_is_what_the_node_signs() -> None:
    namespace: dict[str, object] = {}
    exec(compile(python_example(), str(DOC), "exec"), namespace)
    headers = namespace["sample_headers"]
    body = namespace["sample_body"]
    secret = namespace["sample_secret"]
    assert isinstance(headers, dict) and isinstance(body, bytes) and isinstance(secret, str)
    key = parse_secret(secret)
    assert len(key) == 32 and base64.b64encode(key).decode() == secret.removeprefix("whsec_")
    signature = sign(key, headers["webhook-id"], int(headers["webhook-timestamp"]), body)
    assert signature == headers["webhook-signature"]
    assert f"Content-Length: {len(body)}" in DOC.read_text()
