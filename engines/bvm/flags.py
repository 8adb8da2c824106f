"""Script verification flags, with Bitcoin Core's names and bit positions (`src/script/interpreter.h`).

Each flag is a soft fork: scripts valid under flags A | B are a subset of those valid under A.
`MANDATORY_FLAGS` and `STANDARD_FLAGS` are Core's `MANDATORY_SCRIPT_VERIFY_FLAGS` and
`STANDARD_SCRIPT_VERIFY_FLAGS` (`src/policy/policy.h`): consensus, and consensus plus relay policy.
"""

from __future__ import annotations

from enum import IntFlag


class Flags(IntFlag):
    NONE = 0
    P2SH = 1 << 0  # BIP16
    STRICTENC = 1 << 1  # signatures and public keys strictly encoded, defined hash types
    DERSIG = 1 << 2  # BIP66 strict DER
    LOW_S = 1 << 3  # BIP146 low S
    NULLDUMMY = 1 << 4  # BIP147 CHECKMULTISIG dummy is empty
    SIGPUSHONLY = 1 << 5  # scriptSig is push-only
    MINIMALDATA = 1 << 6  # minimal pushes and script numbers
    DISCOURAGE_UPGRADABLE_NOPS = 1 << 7
    CLEANSTACK = 1 << 8  # exactly one stack element left
    CHECKLOCKTIMEVERIFY = 1 << 9  # BIP65
    CHECKSEQUENCEVERIFY = 1 << 10  # BIP112
    WITNESS = 1 << 11  # BIP141
    DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM = 1 << 12
    MINIMALIF = 1 << 13  # segwit v0 IF/NOTIF argument is empty or 0x01
    NULLFAIL = 1 << 14  # BIP146 failed signatures are empty
    WITNESS_PUBKEYTYPE = 1 << 15  # segwit v0 keys are compressed
    CONST_SCRIPTCODE = 1 << 16  # no OP_CODESEPARATOR / FindAndDelete hits in legacy scripts
    TAPROOT = 1 << 17  # BIP341 / BIP342
    DISCOURAGE_UPGRADABLE_TAPROOT_VERSION = 1 << 18
    DISCOURAGE_OP_SUCCESS = 1 << 19
    DISCOURAGE_UPGRADABLE_PUBKEYTYPE = 1 << 20


ALL_FLAGS = Flags(0)
for _flag in Flags:
    ALL_FLAGS |= _flag

MANDATORY_FLAGS = (
    Flags.P2SH
    | Flags.DERSIG
    | Flags.NULLDUMMY
    | Flags.CHECKLOCKTIMEVERIFY
    | Flags.CHECKSEQUENCEVERIFY
    | Flags.WITNESS
    | Flags.TAPROOT
)

STANDARD_FLAGS = (
    MANDATORY_FLAGS
    | Flags.STRICTENC
    | Flags.MINIMALDATA
    | Flags.DISCOURAGE_UPGRADABLE_NOPS
    | Flags.CLEANSTACK
    | Flags.MINIMALIF
    | Flags.NULLFAIL
    | Flags.LOW_S
    | Flags.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM
    | Flags.WITNESS_PUBKEYTYPE
    | Flags.CONST_SCRIPTCODE
    | Flags.DISCOURAGE_UPGRADABLE_TAPROOT_VERSION
    | Flags.DISCOURAGE_OP_SUCCESS
    | Flags.DISCOURAGE_UPGRADABLE_PUBKEYTYPE
)


def parse_flags(text: str) -> Flags:
    """Flags from Core's comma-separated text (`ParseScriptFlags`): "P2SH,WITNESS"; "" and "NONE" are none."""
    flags = Flags.NONE
    if text in ("", "NONE"):
        return flags
    for word in text.split(","):
        if word == "NONE" or word not in Flags.__members__:
            raise ValueError(f"unknown verification flag {word!r}")
        flags |= Flags[word]
    return flags


def format_flags(flags: int) -> str:
    """The inverse of parse_flags, in Core's bit order."""
    return ",".join(f.name for f in Flags if f and flags & f and f.name is not None)


def is_valid_combination(flags: int) -> bool:
    """Core asserts these: CLEANSTACK needs WITNESS, and WITNESS needs P2SH (`VerifyScript`)."""
    if flags & Flags.CLEANSTACK and not flags & Flags.WITNESS:
        return False
    return not (flags & Flags.WITNESS and not flags & Flags.P2SH)


def fill_flags(flags: int) -> Flags:
    """Add what the given flags imply (Core's transaction_tests.cpp `FillFlags`)."""
    if flags & Flags.CLEANSTACK:
        flags |= Flags.WITNESS
    if flags & Flags.WITNESS:
        flags |= Flags.P2SH
    return Flags(flags)


def trim_flags(flags: int) -> Flags:
    """Drop what the given flags no longer allow (Core's transaction_tests.cpp `TrimFlags`)."""
    if not flags & Flags.P2SH:
        flags &= ~Flags.WITNESS
    if not flags & Flags.WITNESS:
        flags &= ~Flags.CLEANSTACK
    return Flags(flags)
