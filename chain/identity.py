"""Identities and their derivations: ACE-GF key streams, id_com, VM addresses, legacy and multisig ids.

SPEC §4 (ACE-GF profile) turns a 32-byte REV into per-purpose keys and a Poseidon commitment,
the id_com; SPEC §2 derives from an id_com its address in every VM, and gives raw-chain wallets
and multisig groups an id_com of their own. Everything here is a pure function of bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import coincurve
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF
from nacl.signing import SigningKey

from .hashing import H, u8
from .poseidon import poseidon

DEVNET_CHAIN_ID = 7231053  # 0x6e564d, "nVM" (SPEC §4); also the EVM chainId
REV_LEN = 32
ID_COM_LEN = 32
SALT_BITS = 128  # the salt is a 16-byte integer

# HKDF-SHA256 key streams (SPEC §4).
STREAM_SALT = b"ACE-GF"
STREAM_INFO_PREFIX = "ACE-GF/stream/"
STREAM_LEN = 32
STREAM_ED25519 = 1  # SVM and native signatures
STREAM_EVM = 3  # secp256k1
STREAM_BITCOIN = 4  # secp256k1
STREAM_TRON = 5  # secp256k1
STREAM_ATTESTATION = 8  # HMAC-SHA256 key

# Domain strings of SPEC §2 / §4, verbatim.
DOMAIN_PREFIX = b"nvm/domain/"
ADDRESS_PREFIX = b"nvm/addr/"
LEGACY_PREFIX = b"nvm/legacy/"
MULTISIG_PREFIX = b"nvm/multisig"
ERC20_PREFIX = b"nvm/erc20"

VM_ADDRESS_LEN = {"evm": 20, "svm": 32, "btc": 32, "tron": 20}  # SPEC §2: last_n(H("nvm/addr/" + tag || id_com))

# SPEC §2 legacy identities: what a raw-chain wallet's native address is.
LEGACY_CHAINS = ("evm", "svm", "btc", "tron")
TRON_ADDRESS_PREFIX = 0x41  # Tron's 21-byte address is 0x41 || 20 bytes
MAX_SCRIPT_SIZE = 10_000  # Bitcoin Core script.h: no script longer than this can ever be spent

MAX_MULTISIG_MEMBERS = 255  # the threshold is one byte
DEFAULT_SHARDS = 64  # SPEC §2 context shard count S


# --- key streams and keys (SPEC §4) ---


def key_stream(rev: bytes, i: int) -> bytes:
    """K_i = HKDF-SHA256(IKM=REV, salt="ACE-GF", info="ACE-GF/stream/<i>", L=32)."""
    _check_rev(rev)
    if i < 0:
        raise ValueError(f"stream index must be non-negative, got {i}")
    key = HKDF(rev, STREAM_LEN, STREAM_SALT, SHA256, context=f"{STREAM_INFO_PREFIX}{i}".encode())
    assert isinstance(key, bytes)  # one key asked for, one returned
    return key


@dataclass(frozen=True)
class AceKeys:
    """The keys of one identity. Private halves stay out of repr so a log line never leaks them."""

    ed25519: SigningKey = field(repr=False)
    evm: coincurve.PrivateKey = field(repr=False)
    bitcoin: coincurve.PrivateKey = field(repr=False)
    tron: coincurve.PrivateKey = field(repr=False)
    attestation_key: bytes = field(repr=False)
    ed25519_public: bytes  # 32 bytes
    evm_public: bytes  # 65 bytes, uncompressed SEC1: what the EVM address hashes
    bitcoin_public: bytes  # 33 bytes, compressed SEC1 (x-only for Taproot is [1:])
    tron_public: bytes  # 65 bytes, uncompressed SEC1


def derive_keys(rev: bytes) -> AceKeys:
    """All keys of the identity behind REV (SPEC §4 streams 1, 3, 4, 5, 8)."""
    ed25519 = SigningKey(key_stream(rev, STREAM_ED25519))
    # A stream is a valid secp256k1 scalar unless it is 0 or ≥ n (probability ~2^-128);
    # coincurve refuses such a key with ValueError rather than reducing it.
    evm = coincurve.PrivateKey(key_stream(rev, STREAM_EVM))
    bitcoin = coincurve.PrivateKey(key_stream(rev, STREAM_BITCOIN))
    tron = coincurve.PrivateKey(key_stream(rev, STREAM_TRON))
    return AceKeys(
        ed25519=ed25519,
        evm=evm,
        bitcoin=bitcoin,
        tron=tron,
        attestation_key=key_stream(rev, STREAM_ATTESTATION),
        ed25519_public=bytes(ed25519.verify_key),
        evm_public=evm.public_key.format(compressed=False),
        bitcoin_public=bitcoin.public_key.format(compressed=True),
        tron_public=tron.public_key.format(compressed=False),
    )


# --- id_com (SPEC §4) ---


def domain_of(chain_id: int) -> int:
    """First 16 bytes of H("nvm/domain/" + chain_id in decimal ASCII), as a big-endian integer."""
    if chain_id < 0:
        raise ValueError(f"chain id must be non-negative, got {chain_id}")
    return int.from_bytes(H(DOMAIN_PREFIX + str(chain_id).encode())[:16], "big")


def id_com(rev: bytes, salt: int = 0, chain_id: int = DEVNET_CHAIN_ID) -> bytes:
    """Poseidon(rev_hi, rev_lo, salt, domain) over BN254 (t = 5), 32 bytes big-endian."""
    _check_rev(rev)
    if not 0 <= salt < 1 << SALT_BITS:
        raise ValueError(f"salt must be a 16-byte unsigned integer, got {salt}")
    rev_hi = int.from_bytes(rev[:16], "big")
    rev_lo = int.from_bytes(rev[16:], "big")
    return poseidon([rev_hi, rev_lo, salt, domain_of(chain_id)]).to_bytes(ID_COM_LEN, "big")


# --- addresses and other ids (SPEC §2) ---


def vm_address(id_com: bytes, tag: str) -> bytes:
    """last_n(H("nvm/addr/" + tag || id_com)): the identity's address in the VM named by tag."""
    _check_id_com(id_com)
    if tag not in VM_ADDRESS_LEN:
        raise ValueError(f"unknown VM tag {tag!r}: expected one of {', '.join(VM_ADDRESS_LEN)}")
    return H(ADDRESS_PREFIX + tag.encode() + id_com)[-VM_ADDRESS_LEN[tag] :]


def legacy_id_com(chain: str, native_bytes: bytes) -> bytes:
    """H("nvm/legacy/" + chain + "/" || native_bytes): the identity of a raw-chain wallet."""
    _check_native_bytes(chain, native_bytes)
    return H(LEGACY_PREFIX + chain.encode() + b"/" + native_bytes)


def _check_native_bytes(chain: str, native: bytes) -> None:
    # The same wallet must always map to the same id_com, so only the one canonical
    # byte form of each chain's address is accepted.
    if chain == "evm":
        if len(native) != 20:
            raise ValueError(f"an EVM address is 20 bytes, got {len(native)}")
    elif chain == "svm":
        if len(native) != 32:
            raise ValueError(f"a Solana public key is 32 bytes, got {len(native)}")
    elif chain == "btc":
        if len(native) > MAX_SCRIPT_SIZE:
            raise ValueError(f"a Bitcoin scriptPubKey is at most {MAX_SCRIPT_SIZE} bytes, got {len(native)}")
    elif chain == "tron":
        if len(native) != 21:
            raise ValueError(f"a Tron address is 21 bytes (0x41 || 20), got {len(native)}")
        if native[0] != TRON_ADDRESS_PREFIX:
            raise ValueError(f"a Tron address starts with 0x{TRON_ADDRESS_PREFIX:02x}, got 0x{native[0]:02x}")
    else:
        raise ValueError(f"unknown legacy chain {chain!r}: expected one of {', '.join(LEGACY_CHAINS)}")


def multisig_id_com(threshold: int, members: list[bytes]) -> bytes:
    """H("nvm/multisig" || threshold_u8 || sorted member id_coms) (SPEC §4).

    Sorting makes the id independent of the order members were listed in.
    """
    if not 1 <= len(members) <= MAX_MULTISIG_MEMBERS:
        raise ValueError(f"a multisig has 1 … {MAX_MULTISIG_MEMBERS} members, got {len(members)}")
    if not 1 <= threshold <= len(members):
        raise ValueError(f"threshold must be 1 … {len(members)} (the member count), got {threshold}")
    for member in members:
        _check_id_com(member)
    if len(set(members)) != len(members):
        raise ValueError("multisig members must be distinct")
    return H(MULTISIG_PREFIX + u8(threshold) + b"".join(sorted(members)))


def erc20_address(mint: bytes) -> bytes:
    """last_20(H("nvm/erc20" || mint)): where the EVM sees a mint as an ERC-20 contract."""
    if len(mint) != 32:
        raise ValueError(f"a mint id is 32 bytes, got {len(mint)}")
    return H(ERC20_PREFIX + mint)[-20:]


def context_shard(prefix: bytes, ctx16: bytes, shards: int = DEFAULT_SHARDS) -> int:
    """int(H(len(prefix)_u16 || prefix || ctx16)[:8]) mod S; the length prefix keeps (prefix, ctx) pairs unambiguous."""
    if len(prefix) > 0xFFFF:
        raise ValueError(f"context prefix is at most 65535 bytes, got {len(prefix)}")
    if len(ctx16) != 16:
        raise ValueError(f"context is 16 bytes, got {len(ctx16)}")
    if shards < 1:
        raise ValueError(f"shard count must be positive, got {shards}")
    digest = H(len(prefix).to_bytes(2, "big") + prefix + ctx16)
    return int.from_bytes(digest[:8], "big") % shards


def _check_rev(rev: bytes) -> None:
    if len(rev) != REV_LEN:
        raise ValueError(f"REV is {REV_LEN} bytes, got {len(rev)}")


def _check_id_com(value: bytes) -> None:
    if len(value) != ID_COM_LEN:
        raise ValueError(f"an id_com is {ID_COM_LEN} bytes, got {len(value)}")
