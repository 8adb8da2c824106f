"""BIP341 commitments: leaf, branch and tweak hashes, output keys, control blocks and script trees.

An output key Q = P + t·G commits to an internal key P and (optionally) a Merkle root of script
leaves, t = hash_TapTweak(P || root). A script-path spend reveals a leaf and a control block:
(leaf version | parity of Q) · P · the sibling hashes from the leaf up to the root.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from coincurve import PrivateKey

from .crypto import SECP256K1_ORDER, check_tap_tweak, tagged_hasher, tweak_xonly
from .opcodes import OP_1
from .tx import compact_size

TAPROOT_LEAF_MASK = 0xFE
TAPROOT_LEAF_TAPSCRIPT = 0xC0  # BIP342
TAPROOT_CONTROL_BASE_SIZE = 33
TAPROOT_CONTROL_NODE_SIZE = 32
TAPROOT_CONTROL_MAX_NODE_COUNT = 128
TAPROOT_CONTROL_MAX_SIZE = TAPROOT_CONTROL_BASE_SIZE + TAPROOT_CONTROL_NODE_SIZE * TAPROOT_CONTROL_MAX_NODE_COUNT
ANNEX_TAG = 0x50

_TAPLEAF = tagged_hasher("TapLeaf")
_TAPBRANCH = tagged_hasher("TapBranch")
_TAPTWEAK = tagged_hasher("TapTweak")


def tapleaf_hash(leaf_version: int, script: bytes) -> bytes:
    h = _TAPLEAF.copy()
    h.update(bytes((leaf_version,)) + compact_size(len(script)) + script)
    return bytes(h.digest())


def tapbranch_hash(a: bytes, b: bytes) -> bytes:
    """The parent of two nodes, in lexicographic order so that the tree needs no left/right bits."""
    h = _TAPBRANCH.copy()
    h.update(a + b if a < b else b + a)
    return bytes(h.digest())


def taptweak_hash(internal_key: bytes, merkle_root: bytes | None) -> bytes:
    """t = hash_TapTweak(P || root); a key with no scripts tweaks with P alone (BIP341, BIP86)."""
    h = _TAPTWEAK.copy()
    h.update(internal_key if merkle_root is None else internal_key + merkle_root)
    return bytes(h.digest())


def merkle_root_from_control(control: bytes, leaf_hash: bytes) -> bytes:
    k = leaf_hash
    for pos in range(TAPROOT_CONTROL_BASE_SIZE, len(control), TAPROOT_CONTROL_NODE_SIZE):
        k = tapbranch_hash(k, control[pos : pos + TAPROOT_CONTROL_NODE_SIZE])
    return k


def verify_commitment(control: bytes, program: bytes, leaf_hash: bytes) -> bool:
    """Core's VerifyTaprootCommitment: the output key `program` commits to the leaf through the control block."""
    internal_key = control[1:TAPROOT_CONTROL_BASE_SIZE]
    root = merkle_root_from_control(control, leaf_hash)
    return check_tap_tweak(program, internal_key, taptweak_hash(internal_key, root), control[0] & 1)


def output_key(internal_key: bytes, merkle_root: bytes | None) -> tuple[bytes, int]:
    """(Q as 32 bytes, parity of Q's Y) for an internal key and optional Merkle root."""
    tweaked = tweak_xonly(internal_key, taptweak_hash(internal_key, merkle_root))
    if tweaked is None:
        raise ValueError("invalid internal key or tweak")
    return tweaked


def tweak_secret(secret: bytes, merkle_root: bytes | None) -> bytes:
    """BIP341 taproot_tweak_seckey: the secret key of the output key, for key-path signing. The internal
    secret is first negated if its point has an odd Y, since x-only keys stand for the even one."""
    public = PrivateKey(secret).public_key.format(compressed=True)
    d = int.from_bytes(secret, "big")
    if public[0] == 3:
        d = SECP256K1_ORDER - d
    t = int.from_bytes(taptweak_hash(public[1:], merkle_root), "big")
    if t >= SECP256K1_ORDER:
        raise ValueError("tweak out of range")
    return ((d + t) % SECP256K1_ORDER).to_bytes(32, "big")


def p2tr_script(output_key: bytes) -> bytes:
    """The witness v1 scriptPubKey: OP_1 <32-byte output key>."""
    return bytes((OP_1, 32)) + output_key


@dataclass(frozen=True)
class Leaf:
    script: bytes
    leaf_version: int = TAPROOT_LEAF_TAPSCRIPT

    @property
    def hash(self) -> bytes:
        return tapleaf_hash(self.leaf_version, self.script)


# A script tree: a leaf, or a pair of subtrees (as BIP341's wallet vectors write them).
ScriptTree: TypeAlias = Leaf | Sequence["ScriptTree"]


@dataclass(frozen=True)
class TaprootOutput:
    """Everything a wallet derives from an internal key and a script tree."""

    internal_key: bytes
    merkle_root: bytes | None
    output_key: bytes
    parity: int
    leaves: tuple[tuple[Leaf, tuple[bytes, ...]], ...]  # each leaf with its Merkle path, leaf to root

    @property
    def tweak(self) -> bytes:
        return taptweak_hash(self.internal_key, self.merkle_root)

    @property
    def script_pubkey(self) -> bytes:
        return p2tr_script(self.output_key)

    def control_block(self, leaf_index: int) -> bytes:
        leaf, path = self.leaves[leaf_index]
        return bytes((leaf.leaf_version | self.parity,)) + self.internal_key + b"".join(path)


def _walk(tree: ScriptTree) -> tuple[bytes, list[tuple[Leaf, list[bytes]]]]:
    if isinstance(tree, Leaf):
        return tree.hash, [(tree, [])]
    if len(tree) != 2:
        raise ValueError("a script tree node has exactly two children")
    left_hash, left = _walk(tree[0])
    right_hash, right = _walk(tree[1])
    for _, path in left:
        path.append(right_hash)
    for _, path in right:
        path.append(left_hash)
    return tapbranch_hash(left_hash, right_hash), left + right


def taproot_output(internal_key: bytes, tree: ScriptTree | None) -> TaprootOutput:
    """The output for `internal_key` committing to `tree` (None: key path only); leaves in depth-first order."""
    leaves: list[tuple[Leaf, list[bytes]]] = []
    root = None
    if tree is not None:
        root, leaves = _walk(tree)
    key, parity = output_key(internal_key, root)
    return TaprootOutput(internal_key, root, key, parity, tuple((leaf, tuple(path)) for leaf, path in leaves))
