"""The node's core, shared by every engine (docs/PROTOCOL.md)."""

import os

# eth-hash picks the first Keccak backend it can import unless told: its C one (safe-pysha3, pinned in
# requirements.txt) costs ~1 µs a hash where pycryptodome's costs ~5 µs. Set before the first keccak.
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
