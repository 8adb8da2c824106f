"""Address text: every format a user pastes or is shown, written and parsed in one place (SPEC §2).

Formats: an id_com as 0x + 64 hex; EVM EIP-55 hex; SVM base58; BVM bech32m `bcrt1p…` (the
identity's 32-byte address is a witness-v1 program) and the regtest addresses legacy Bitcoin
wallets keep (P2PKH `m…/n…`, P2SH `2…`, P2WPKH / P2WSH `bcrt1q…`, P2TR `bcrt1p…`); Tron
base58check of 0x41 || 20 bytes (`T…`). A Bitcoin address parses to the scriptPubKey it pays.

The devnet is a regtest network: mainnet (`1…`, `3…`, `bc1…`) and testnet/signet (`tb1…`)
addresses are refused. Testnet's base58 versions are regtest's own, so `m…/n…/2…` are accepted.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Iterable
from dataclasses import dataclass

import base58
from Crypto.Hash import keccak

from .identity import TRON_ADDRESS_PREFIX, vm_address

# Bitcoin regtest (Bitcoin Core chainparams.cpp, CRegTestParams).
BTC_HRP = "bcrt"
P2PKH_VERSION = 0x6F  # PUBKEY_ADDRESS
P2SH_VERSION = 0xC4  # SCRIPT_ADDRESS
# Other networks, recognised only to say why they are refused.
MAINNET_HRP = "bc"
TESTNET_HRP = "tb"  # testnet and signet
BECH32_PREFIXES = (BTC_HRP + "1", MAINNET_HRP + "1", TESTNET_HRP + "1")
MAINNET_P2PKH_VERSION = 0x00
MAINNET_P2SH_VERSION = 0x05

# Bitcoin Core script.h opcodes.
OP_0 = 0x00
OP_1 = 0x51
OP_16 = 0x60
OP_DUP = 0x76
OP_EQUAL = 0x87
OP_EQUALVERIFY = 0x88
OP_HASH160 = 0xA9
OP_CHECKSIG = 0xAC

# BIP173 / BIP350.
BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32_CONST = 1
BECH32M_CONST = 0x2BC830A3
BECH32_MAX_LEN = 90
BECH32_CHECKSUM_LEN = 6
WITNESS_V0_PROGRAM_LENS = (20, 32)  # P2WPKH, P2WSH
TAPROOT_PROGRAM_LEN = 32

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BASE58CHECK_PAYLOAD_LEN = 21  # version byte + 20-byte hash (Bitcoin) or 0x41 + 20 bytes (Tron)
BASE58CHECK_CHECKSUM_LEN = 4
SVM_ADDRESS_LEN = 32
EVM_ADDRESS_LEN = 20
TRON_HEX_LEN = 21  # 0x41 || 20 bytes: Tron's address in hex, without base58check
ID_COM_LEN = 32
MAX_ADDRESS_TEXT = 100  # longer than any format (bech32 ≤ 90); base58 decoding is quadratic


class AddressError(ValueError):
    """Text that is not an address this devnet accepts; the message says what is wrong with it."""


@dataclass(frozen=True)
class Parsed:
    """A parsed address: the VM it names, its canonical bytes, and which kind of address it was.

    raw is the 32-byte id_com (vm "native"), the 20-byte EVM address, the 32-byte Solana
    public key, the Bitcoin scriptPubKey, or the 21-byte Tron address 0x41 || 20.
    """

    vm: str
    raw: bytes
    kind: str

    @property
    def text(self) -> str:
        """The canonical text of the same address (checksummed, lower-case bech32, …)."""
        if self.vm == "native":
            return id_com_text(self.raw)
        if self.vm == "evm":
            return evm_text(self.raw)
        if self.vm == "svm":
            return svm_text(self.raw)
        if self.vm == "tron":
            return tron_text(self.raw)
        text = btc_script_text(self.raw)
        assert text is not None  # only standard scripts are ever parsed from text
        return text


# --- bech32 / bech32m (BIP173, BIP350 reference code) ---


def _polymod(values: Iterable[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if (top >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: Iterable[int], from_bits: int, to_bits: int, pad: bool) -> list[int] | None:
    acc = 0
    bits = 0
    out = []
    max_value = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & max_value)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & max_value)
    elif bits >= from_bits or (acc << (to_bits - bits)) & max_value:
        return None  # BIP173: at most 4 bits of zero padding
    return out


def segwit_address(hrp: str, version: int, program: bytes) -> str:
    """A witness program as bech32 (version 0) or bech32m (version 1 … 16) text."""
    if not 0 <= version <= 16:
        raise ValueError(f"witness version must be 0 … 16, got {version}")
    if not 2 <= len(program) <= 40 or (version == 0 and len(program) not in WITNESS_V0_PROGRAM_LENS):
        raise ValueError(f"no witness v{version} program is {len(program)} bytes")
    data = [version, *(_convert_bits(program, 8, 5, pad=True) or [])]
    const = BECH32_CONST if version == 0 else BECH32M_CONST
    polymod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(BECH32_CHECKSUM_LEN)]
    return hrp + "1" + "".join(BECH32_CHARSET[d] for d in data + checksum)


def decode_segwit_address(hrp: str, text: str) -> tuple[int, bytes]:
    """(witness version, program) of a bech32/bech32m address with the given HRP; AddressError if not one."""
    if text.lower() != text and text.upper() != text:
        raise AddressError("bech32 address mixes upper and lower case; it must be all one case")
    text = text.lower()
    if not text.startswith(hrp + "1"):
        raise AddressError(f"bech32 address must start {hrp}1")
    # The separator is the last "1" (BIP173); the data part has no "1", so it follows the HRP.
    data_part = text[len(hrp) + 1 :]
    bad = [c for c in data_part if c not in BECH32_CHARSET]
    if bad:
        raise AddressError(f"{bad[0]!r} is not a bech32 character (bech32 has no 1, b, i or o after {hrp}1)")
    if len(text) > BECH32_MAX_LEN:
        raise AddressError(f"bech32 address is {len(text)} characters, at most {BECH32_MAX_LEN}")
    if len(data_part) < BECH32_CHECKSUM_LEN:
        raise AddressError("bech32 address is too short to hold a checksum")
    data = [BECH32_CHARSET.index(c) for c in data_part]
    const = _polymod(_hrp_expand(hrp) + data)
    if const not in (BECH32_CONST, BECH32M_CONST):
        raise AddressError("bech32 checksum mismatch: the address has a typo")
    payload = data[:-BECH32_CHECKSUM_LEN]
    if not payload:
        raise AddressError("bech32 address holds no witness version")
    version = payload[0]
    program_bits = _convert_bits(payload[1:], 5, 8, pad=False)
    if version > 16:
        raise AddressError(f"witness version {version} does not exist (0 … 16)")
    if program_bits is None:
        raise AddressError("bech32 address has invalid padding bits")
    program = bytes(program_bits)
    if not 2 <= len(program) <= 40:
        raise AddressError(f"witness program is {len(program)} bytes, must be 2 … 40")
    if version == 0 and len(program) not in WITNESS_V0_PROGRAM_LENS:
        raise AddressError(f"witness v0 program is {len(program)} bytes, must be 20 (P2WPKH) or 32 (P2WSH)")
    if version == 0 and const != BECH32_CONST:
        raise AddressError("witness v0 address must use bech32 (BIP173), not bech32m")
    if version != 0 and const != BECH32M_CONST:
        raise AddressError(f"witness v{version} address must use bech32m (BIP350), not bech32")
    return version, program


# --- scriptPubKeys of the standard output types ---


def p2pkh_script(pubkey_hash: bytes) -> bytes:
    """OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG."""
    _check_len(pubkey_hash, 20, "P2PKH key hash")
    return bytes([OP_DUP, OP_HASH160, 20]) + pubkey_hash + bytes([OP_EQUALVERIFY, OP_CHECKSIG])


def p2sh_script(script_hash: bytes) -> bytes:
    """OP_HASH160 <20> OP_EQUAL."""
    _check_len(script_hash, 20, "P2SH script hash")
    return bytes([OP_HASH160, 20]) + script_hash + bytes([OP_EQUAL])


def witness_script(version: int, program: bytes) -> bytes:
    """OP_n <program>: P2WPKH / P2WSH (v0, 20 / 32 bytes), P2TR (v1, 32 bytes), future versions."""
    if not 0 <= version <= 16:
        raise ValueError(f"witness version must be 0 … 16, got {version}")
    if not 2 <= len(program) <= 40:
        raise ValueError(f"witness program must be 2 … 40 bytes, got {len(program)}")
    return bytes([OP_0 if version == 0 else OP_1 + version - 1, len(program)]) + program


def p2tr_script(output_key: bytes) -> bytes:
    _check_len(output_key, TAPROOT_PROGRAM_LEN, "Taproot output key")
    return witness_script(1, output_key)


def _witness_program(script: bytes) -> tuple[int, bytes] | None:
    # Bitcoin Core CScript::IsWitnessProgram.
    if not 4 <= len(script) <= 42 or script[1] + 2 != len(script):
        return None
    if script[0] == OP_0:
        return 0, script[2:]
    if OP_1 <= script[0] <= OP_16:
        return script[0] - OP_1 + 1, script[2:]
    return None


def script_kind(script: bytes) -> str | None:
    """p2pkh, p2sh, p2wpkh, p2wsh, p2tr or witness_unknown for a script that has an address, else None."""
    if (
        len(script) == 25
        and script[:3] == bytes([OP_DUP, OP_HASH160, 20])
        and script[23:] == bytes([OP_EQUALVERIFY, OP_CHECKSIG])
    ):
        return "p2pkh"
    if len(script) == 23 and script[:2] == bytes([OP_HASH160, 20]) and script[22] == OP_EQUAL:
        return "p2sh"
    witness = _witness_program(script)
    if witness is None:
        return None
    version, program = witness
    if version == 0:
        return {20: "p2wpkh", 32: "p2wsh"}.get(len(program))  # other v0 lengths are unspendable
    if version == 1 and len(program) == TAPROOT_PROGRAM_LEN:
        return "p2tr"
    return "witness_unknown"


# --- formatting ---


def id_com_text(id_com: bytes) -> str:
    _check_len(id_com, ID_COM_LEN, "id_com")
    return "0x" + id_com.hex()


def evm_text(raw20: bytes) -> str:
    """EIP-55: a hex letter is upper case where the same nibble of keccak256(lower-case hex) is ≥ 8."""
    _check_len(raw20, EVM_ADDRESS_LEN, "EVM address")
    hex_lower = raw20.hex()
    digest = keccak.new(digest_bits=256, data=hex_lower.encode()).hexdigest()
    return "0x" + "".join(c.upper() if int(n, 16) >= 8 else c for c, n in zip(hex_lower, digest, strict=False))


def svm_text(raw32: bytes) -> str:
    _check_len(raw32, SVM_ADDRESS_LEN, "Solana address")
    return base58.b58encode(raw32).decode()


def btc_text(program32: bytes) -> str:
    """An identity's BVM address: its 32-byte witness-v1 program as `bcrt1p…`."""
    _check_len(program32, TAPROOT_PROGRAM_LEN, "BVM address")
    return segwit_address(BTC_HRP, 1, program32)


def btc_script_text(script_pubkey: bytes) -> str | None:
    """The regtest address paying to a standard scriptPubKey; None for a script without one."""
    kind = script_kind(script_pubkey)
    if kind == "p2pkh":
        return _base58check(P2PKH_VERSION, script_pubkey[3:23])
    if kind == "p2sh":
        return _base58check(P2SH_VERSION, script_pubkey[2:22])
    witness = _witness_program(script_pubkey)
    if kind is None or witness is None:
        return None
    return segwit_address(BTC_HRP, *witness)


def tron_text(raw: bytes) -> str:
    """base58check(0x41 || 20 bytes), from the 21-byte wire form or the bare 20 bytes."""
    if len(raw) == 20:
        raw = bytes([TRON_ADDRESS_PREFIX]) + raw
    _check_len(raw, 21, "Tron address")
    if raw[0] != TRON_ADDRESS_PREFIX:
        raise ValueError(f"a Tron address starts with 0x{TRON_ADDRESS_PREFIX:02x}, got 0x{raw[0]:02x}")
    return base58.b58encode_check(raw).decode()


def addresses_of(id_com: bytes) -> dict[str, str]:
    """The identity's address in each VM, as text (SPEC §2)."""
    return {
        "evm": evm_text(vm_address(id_com, "evm")),
        "svm": svm_text(vm_address(id_com, "svm")),
        "btc": btc_text(vm_address(id_com, "btc")),
        "tron": tron_text(vm_address(id_com, "tron")),
    }


def _base58check(version: int, payload: bytes) -> str:
    return base58.b58encode_check(bytes([version]) + payload).decode()


def _check_len(data: bytes, n: int, what: str) -> None:
    if len(data) != n:
        raise ValueError(f"{what} is {n} bytes, got {len(data)}")


# --- parsing ---


def parse_address(text: str) -> Parsed:
    """Whatever address a user pasted, as (vm, raw bytes, kind); AddressError says why not."""
    s = text.strip()
    if not s:
        raise AddressError("empty address")
    if len(s) > MAX_ADDRESS_TEXT:
        raise AddressError(f"too long for an address ({len(s)} characters)")
    if any(c.isspace() for c in s):
        raise AddressError("address contains whitespace")
    lower = s.lower()
    if len(s) == 2 * TRON_HEX_LEN and lower.startswith(f"{TRON_ADDRESS_PREFIX:02x}") and _is_hex(s):
        return Parsed("tron", bytes.fromhex(s), "tron")  # Tron's hex form, as java-tron's API writes it unless visible
    if lower.startswith("0x") or (len(s) in (2 * EVM_ADDRESS_LEN, 2 * ID_COM_LEN) and _is_hex(s)):
        return _parse_hex(s[2:] if lower.startswith("0x") else s)
    if not lower.startswith(BECH32_PREFIXES):
        return _parse_base58(s)
    # "Tb1…" may be a Tron address and "bc1…" a Solana one: bech32 is never mixed case, so
    # mixed-case base58 text is read as base58 first.
    if s in (lower, s.upper()) or any(c not in BASE58_ALPHABET for c in s):
        return _parse_bech32(s)
    try:
        return _parse_base58(s)
    except AddressError:
        if s.startswith("T"):  # Tron's leading character: report the Tron error
            raise
        return _parse_bech32(s)  # raises: the case is mixed


def _is_hex(s: str) -> bool:
    return all(c in string.hexdigits for c in s)


def _parse_hex(digits: str) -> Parsed:
    if not digits:
        raise AddressError("nothing after 0x")
    bad = [c for c in digits if c not in string.hexdigits]
    if bad:
        raise AddressError(f"not hexadecimal: {bad[0]!r} after 0x")
    if len(digits) == 2 * ID_COM_LEN:
        return Parsed("native", bytes.fromhex(digits), "id_com")  # an id_com carries no checksum
    if len(digits) != 2 * EVM_ADDRESS_LEN:
        raise AddressError(f"hex address has {len(digits)} digits: an EVM address has 40, an id_com 64")
    raw = bytes.fromhex(digits)
    # EIP-55: only a mixed-case address carries a checksum.
    if digits not in (digits.lower(), digits.upper()) and "0x" + digits != evm_text(raw):
        raise AddressError(
            f"EIP-55 checksum mismatch: did you mean {evm_text(raw)}? "
            "A wrong letter case usually means a typo, so check the address"
        )
    return Parsed("evm", raw, "evm")


def _parse_bech32(s: str) -> Parsed:
    lower = s.lower()
    if lower.startswith(MAINNET_HRP + "1"):
        raise AddressError("bc1… is a Bitcoin mainnet address; this devnet is regtest (bcrt1…)")
    if lower.startswith(TESTNET_HRP + "1"):
        raise AddressError("tb1… is a Bitcoin testnet/signet address; this devnet is regtest (bcrt1…)")
    version, program = decode_segwit_address(BTC_HRP, s)
    script = witness_script(version, program)
    kind = script_kind(script)
    assert kind is not None  # decode_segwit_address only returns programs that have an address
    return Parsed("btc", script, kind)


def _parse_base58(s: str) -> Parsed:
    bad = [c for c in s if c not in BASE58_ALPHABET]
    if bad and not _is_hex(s):
        raise AddressError(
            f"not an address: {bad[0]!r} is neither hex (0x…), base58 (Solana, Tron, Bitcoin m/n/2…) nor bech32 (bcrt1…)"
        )
    data = b"" if bad else base58.b58decode(s)
    if len(data) == SVM_ADDRESS_LEN:
        return Parsed("svm", data, "svm")
    if len(data) != BASE58CHECK_PAYLOAD_LEN + BASE58CHECK_CHECKSUM_LEN:
        if _is_hex(s):  # most likely hex pasted without its 0x and cut short or run long
            raise AddressError(f"hex address has {len(s)} digits: an EVM address has 40, an id_com 64")
        raise AddressError(
            f"base58 text decodes to {len(data)} bytes: a Solana address is 32, "
            f"a Tron or Bitcoin address 25 (21 and a 4-byte checksum)"
        )
    payload, checksum = data[:BASE58CHECK_PAYLOAD_LEN], data[BASE58CHECK_PAYLOAD_LEN:]
    version = payload[0]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:BASE58CHECK_CHECKSUM_LEN] != checksum:
        if version == TRON_ADDRESS_PREFIX or s.startswith("T"):
            raise AddressError("Tron address checksum mismatch: the address has a typo")
        raise AddressError("Bitcoin base58 address checksum mismatch: the address has a typo")
    if version == TRON_ADDRESS_PREFIX:
        return Parsed("tron", payload, "tron")
    if version == P2PKH_VERSION:
        return Parsed("btc", p2pkh_script(payload[1:]), "p2pkh")
    if version == P2SH_VERSION:
        return Parsed("btc", p2sh_script(payload[1:]), "p2sh")
    if version in (MAINNET_P2PKH_VERSION, MAINNET_P2SH_VERSION):
        raise AddressError(f"{s[0]}… is a Bitcoin mainnet address; this devnet is regtest (m…, n…, 2… or bcrt1…)")
    raise AddressError(f"base58check version byte 0x{version:02x} is neither Tron (0x41) nor Bitcoin regtest (0x6f, 0xc4)")
