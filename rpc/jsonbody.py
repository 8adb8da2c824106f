"""Guards every JSON interface applies before parsing a request body.

Python's JSON decoder recurses once per nesting level, and a library loaded by the EVM stack
(py_ecc, through eth-keys) raises the interpreter's recursion limit far enough that a body of
100,000 `[` overflows the C stack and kills the server process. So the depth is counted first,
on the bytes, skipping string contents.
"""

from __future__ import annotations

import re

MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def too_deep(body: bytes) -> bool:
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if len(brackets) <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for c in brackets:
        depth += 1 if c in b"[{" else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False
