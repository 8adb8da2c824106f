"""The Bitcoin Script interpreter, rule for rule Bitcoin Core's (`src/script/interpreter.cpp`).

`verify_input(tx, index, spent_outputs, flags)` runs one input: its scriptSig, the scriptPubKey it
spends, then — as the flags enable them — the P2SH redeem script (BIP16), the witness program
(BIP141: P2WPKH, P2WSH; BIP341: taproot key path, or a script path running tapscript, BIP342),
and raises `ScriptError` with Core's error name on the first rule broken. `verify_tx` does every
input over one `PrecomputedTx`, so the BIP143 / BIP341 hashes are computed once per transaction.

The pieces keep Core's names and order, because the order is observable: which error a failing
script reports is part of what the test vectors check. `eval_script` is `EvalScript`,
`execute_witness_script` is `ExecuteWitnessScript`, `verify_witness_program` is
`VerifyWitnessProgram` and `verify_script` is `VerifyScript`.

Limits: scripts of at most 10,000 bytes and 201 non-push operations (legacy and segwit v0 only),
pushes of at most 520 bytes, 1,000 elements on the stack and altstack together, numbers of at most
4 bytes (5 for CHECKLOCKTIMEVERIFY / CHECKSEQUENCEVERIFY), 20 keys per CHECKMULTISIG, and in
tapscript a signature budget of 50 weight units per signature checked against the witness size + 50.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from .crypto import ecdsa_verify as _ecdsa_verify
from .crypto import hash160, hash256, is_low_s, pubkey_size, ripemd160, schnorr_verify, sha1, sha256
from .errors import ScriptError
from .flags import Flags, is_valid_combination
from .opcodes import (
    DISABLED_OPCODES,
    MAX_SCRIPT_ELEMENT_SIZE,
    OP_0,
    OP_0NOTEQUAL,
    OP_1,
    OP_1ADD,
    OP_1NEGATE,
    OP_1SUB,
    OP_2DROP,
    OP_2DUP,
    OP_2OVER,
    OP_2ROT,
    OP_2SWAP,
    OP_3DUP,
    OP_16,
    OP_ABS,
    OP_ADD,
    OP_BOOLAND,
    OP_BOOLOR,
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKMULTISIG,
    OP_CHECKMULTISIGVERIFY,
    OP_CHECKSEQUENCEVERIFY,
    OP_CHECKSIG,
    OP_CHECKSIGADD,
    OP_CHECKSIGVERIFY,
    OP_CODESEPARATOR,
    OP_DEPTH,
    OP_DROP,
    OP_DUP,
    OP_ELSE,
    OP_ENDIF,
    OP_EQUAL,
    OP_EQUALVERIFY,
    OP_FROMALTSTACK,
    OP_GREATERTHAN,
    OP_GREATERTHANOREQUAL,
    OP_HASH160,
    OP_HASH256,
    OP_IF,
    OP_IFDUP,
    OP_LESSTHAN,
    OP_LESSTHANOREQUAL,
    OP_MAX,
    OP_MIN,
    OP_NEGATE,
    OP_NIP,
    OP_NOP,
    OP_NOP1,
    OP_NOP4,
    OP_NOP10,
    OP_NOT,
    OP_NOTIF,
    OP_NUMEQUAL,
    OP_NUMEQUALVERIFY,
    OP_NUMNOTEQUAL,
    OP_OVER,
    OP_PICK,
    OP_PUSHDATA1,
    OP_PUSHDATA2,
    OP_RETURN,
    OP_RIPEMD160,
    OP_ROLL,
    OP_ROT,
    OP_SHA1,
    OP_SHA256,
    OP_SIZE,
    OP_SUB,
    OP_SWAP,
    OP_TOALTSTACK,
    OP_TUCK,
    OP_VERIFY,
    OP_WITHIN,
    ScriptNumError,
    decode_num,
    encode_num,
    encode_push,
    get_op,
    is_op_success,
    is_p2sh,
    is_push_only,
    witness_program,
)
from .sighash import PrecomputedTx, annex_hash, legacy_sighash, segwit_v0_sighash, taproot_sighash
from .taproot import (
    ANNEX_TAG,
    TAPROOT_CONTROL_BASE_SIZE,
    TAPROOT_CONTROL_MAX_SIZE,
    TAPROOT_CONTROL_NODE_SIZE,
    TAPROOT_LEAF_MASK,
    TAPROOT_LEAF_TAPSCRIPT,
    tapleaf_hash,
    verify_commitment,
)
from .tx import (
    LOCKTIME_THRESHOLD,
    SEQUENCE_FINAL,
    SEQUENCE_LOCKTIME_DISABLE_FLAG,
    SEQUENCE_LOCKTIME_MASK,
    SEQUENCE_LOCKTIME_TYPE_FLAG,
    Tx,
    serialize_witness,
)

MAX_SCRIPT_SIZE = 10_000
MAX_OPS_PER_SCRIPT = 201
MAX_PUBKEYS_PER_MULTISIG = 20
MAX_STACK_SIZE = 1_000
VALIDATION_WEIGHT_PER_SIGOP_PASSED = 50  # BIP342
VALIDATION_WEIGHT_OFFSET = 50  # BIP342
WITNESS_V0_KEYHASH_SIZE = 20
WITNESS_V0_SCRIPTHASH_SIZE = 32
WITNESS_V1_TAPROOT_SIZE = 32
PAY_TO_ANCHOR_PROGRAM = b"\x4e\x73"  # witness v1 "anchor" output: spendable by anyone, not an upgrade hook


class SigVersion(IntEnum):
    """Which rules a script runs under (and which signature hash its signatures use)."""

    BASE = 0  # legacy and P2SH
    WITNESS_V0 = 1  # BIP141 / BIP143
    TAPROOT = 2  # BIP341 key path (no script)
    TAPSCRIPT = 3  # BIP342 script path, leaf version 0xc0


_BASE, _WITNESS_V0, _TAPROOT, _TAPSCRIPT = SigVersion.BASE, SigVersion.WITNESS_V0, SigVersion.TAPROOT, SigVersion.TAPSCRIPT

# Flags as plain ints for the hot path (IntFlag arithmetic is slow).
_P2SH = int(Flags.P2SH)
_STRICTENC = int(Flags.STRICTENC)
_DERSIG = int(Flags.DERSIG)
_LOW_S = int(Flags.LOW_S)
_NULLDUMMY = int(Flags.NULLDUMMY)
_SIGPUSHONLY = int(Flags.SIGPUSHONLY)
_MINIMALDATA = int(Flags.MINIMALDATA)
_DISCOURAGE_UPGRADABLE_NOPS = int(Flags.DISCOURAGE_UPGRADABLE_NOPS)
_CLEANSTACK = int(Flags.CLEANSTACK)
_CHECKLOCKTIMEVERIFY = int(Flags.CHECKLOCKTIMEVERIFY)
_CHECKSEQUENCEVERIFY = int(Flags.CHECKSEQUENCEVERIFY)
_WITNESS = int(Flags.WITNESS)
_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM = int(Flags.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM)
_MINIMALIF = int(Flags.MINIMALIF)
_NULLFAIL = int(Flags.NULLFAIL)
_WITNESS_PUBKEYTYPE = int(Flags.WITNESS_PUBKEYTYPE)
_CONST_SCRIPTCODE = int(Flags.CONST_SCRIPTCODE)
_TAPROOT_FLAG = int(Flags.TAPROOT)
_DISCOURAGE_UPGRADABLE_TAPROOT_VERSION = int(Flags.DISCOURAGE_UPGRADABLE_TAPROOT_VERSION)
_DISCOURAGE_OP_SUCCESS = int(Flags.DISCOURAGE_OP_SUCCESS)
_DISCOURAGE_UPGRADABLE_PUBKEYTYPE = int(Flags.DISCOURAGE_UPGRADABLE_PUBKEYTYPE)

_TRUE = b"\x01"
_FALSE = b""
_SMALL_NUMS = {op: encode_num(op - (OP_1 - 1)) for op in (OP_1NEGATE, *range(OP_1, OP_16 + 1))}
_HASHES = {
    OP_RIPEMD160: ripemd160,
    OP_SHA1: sha1,
    OP_SHA256: sha256,
    OP_HASH160: hash160,
    OP_HASH256: hash256,
}
_UNARY = frozenset((OP_1ADD, OP_1SUB, OP_NEGATE, OP_ABS, OP_NOT, OP_0NOTEQUAL))
_COMPARISONS = (OP_LESSTHAN, OP_GREATERTHAN, OP_LESSTHANOREQUAL, OP_GREATERTHANOREQUAL, OP_MIN, OP_MAX)
_BINARY = frozenset((OP_ADD, OP_SUB, OP_BOOLAND, OP_BOOLOR, OP_NUMEQUAL, OP_NUMEQUALVERIFY, OP_NUMNOTEQUAL, *_COMPARISONS))


class ExecData:
    """Core's ScriptExecutionData: what a taproot spend's signatures commit to beyond the transaction."""

    __slots__ = ("annex_sha", "codeseparator_pos", "tapleaf_hash", "weight_left")

    def __init__(self) -> None:
        self.annex_sha: bytes | None = None  # BIP341 sha_annex when the witness has an annex
        self.tapleaf_hash: bytes | None = None
        self.codeseparator_pos = 0xFFFFFFFF  # opcode position of the last executed OP_CODESEPARATOR
        self.weight_left = 0  # BIP342 validation weight budget


class SignatureChecker:
    """Core's BaseSignatureChecker: with no transaction to check against, every signature and lock fails."""

    def check_ecdsa(self, sig: bytes, pubkey: bytes, script_code: bytes, sigversion: SigVersion) -> bool:
        return False

    def check_schnorr(self, sig: bytes, pubkey: bytes, sigversion: SigVersion, execdata: ExecData) -> None:
        raise ScriptError("SCHNORR_SIG")

    def check_locktime(self, locktime: int) -> bool:
        return False

    def check_sequence(self, sequence: int) -> bool:
        return False


class TxChecker(SignatureChecker):
    """Core's TransactionSignatureChecker: signatures and lock times of input `index` of a transaction."""

    __slots__ = ("amount", "index", "pre", "tx")

    def __init__(self, pre: PrecomputedTx, index: int, amount: int) -> None:
        self.pre = pre
        self.tx: Tx = pre.tx
        self.index = index
        self.amount = amount

    def check_ecdsa(self, sig: bytes, pubkey: bytes, script_code: bytes, sigversion: SigVersion) -> bool:
        if not pubkey or pubkey_size(pubkey[0]) != len(pubkey) or not sig:
            return False
        hash_type = sig[-1]
        if sigversion == _WITNESS_V0:
            digest = segwit_v0_sighash(self.pre, self.index, script_code, self.amount, hash_type)
        else:
            digest = legacy_sighash(self.tx, self.index, script_code, hash_type)
        return _ecdsa_verify(sig[:-1], pubkey, digest)

    def check_schnorr(self, sig: bytes, pubkey: bytes, sigversion: SigVersion, execdata: ExecData) -> None:
        """BIP341 / BIP342 signature check; an empty signature never gets here in tapscript (it is a 'no')."""
        if len(sig) not in (64, 65):
            raise ScriptError("SCHNORR_SIG_SIZE")
        hash_type = 0  # SIGHASH_DEFAULT: no hash type byte
        if len(sig) == 65:
            hash_type = sig[64]
            sig = sig[:64]
            if hash_type == 0:
                raise ScriptError("SCHNORR_SIG_HASHTYPE")  # an explicit 0x00 byte would make the signature malleable
        leaf = execdata.tapleaf_hash if sigversion == _TAPSCRIPT else None
        digest = taproot_sighash(self.pre, self.index, hash_type, execdata.annex_sha, leaf, execdata.codeseparator_pos)
        if digest is None:
            raise ScriptError("SCHNORR_SIG_HASHTYPE")
        if not schnorr_verify(sig, pubkey, digest):
            raise ScriptError("SCHNORR_SIG")

    def check_locktime(self, locktime: int) -> bool:
        """BIP65: the transaction's nLockTime is of the same kind (height / time) and at least `locktime`,
        and this input is not final (which would switch nLockTime off)."""
        tx_locktime = self.tx.locktime
        if (tx_locktime < LOCKTIME_THRESHOLD) != (locktime < LOCKTIME_THRESHOLD):
            return False
        if locktime > tx_locktime:
            return False
        return self.tx.inputs[self.index].sequence != SEQUENCE_FINAL

    def check_sequence(self, sequence: int) -> bool:
        """BIP112: this input's relative lock (BIP68) is of the same kind and at least `sequence`."""
        tx_sequence = self.tx.inputs[self.index].sequence
        if self.tx.version < 2 or tx_sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG:
            return False
        mask = SEQUENCE_LOCKTIME_TYPE_FLAG | SEQUENCE_LOCKTIME_MASK
        tx_masked, masked = tx_sequence & mask, sequence & mask
        if (tx_masked < SEQUENCE_LOCKTIME_TYPE_FLAG) != (masked < SEQUENCE_LOCKTIME_TYPE_FLAG):
            return False
        return masked <= tx_masked


def cast_to_bool(value: bytes) -> bool:
    """False for any encoding of zero, including negative zero (0x80 as the last byte)."""
    if not value:
        return False
    return bool(value[-1] & 0x7F) or value[:-1].count(0) != len(value) - 1


def check_minimal_push(data: bytes, opcode: int) -> bool:
    """MINIMALDATA: `data` was pushed with the shortest way to push it (OP_0, OP_n, OP_1NEGATE, then by size)."""
    n = len(data)
    if n == 0:
        return opcode == OP_0
    if n == 1 and (1 <= data[0] <= 16 or data[0] == 0x81):
        return False
    if n <= 75:
        return opcode == n
    if n <= 0xFF:
        return opcode == OP_PUSHDATA1
    if n <= 0xFFFF:
        return opcode == OP_PUSHDATA2
    return True


def is_valid_signature_encoding(sig: bytes) -> bool:
    """BIP66 strict DER plus the hash type byte: 0x30 len 0x02 lenR R 0x02 lenS S hashtype, R and S positive
    and minimally encoded (`IsValidSignatureEncoding`)."""
    n = len(sig)
    if n < 9 or n > 73 or sig[0] != 0x30 or sig[1] != n - 3:
        return False
    len_r = sig[3]
    if 5 + len_r >= n:
        return False
    len_s = sig[5 + len_r]
    if len_r + len_s + 7 != n:
        return False
    if sig[2] != 0x02 or len_r == 0 or sig[4] & 0x80:
        return False
    if len_r > 1 and sig[4] == 0 and not sig[5] & 0x80:
        return False
    if sig[len_r + 4] != 0x02 or len_s == 0 or sig[len_r + 6] & 0x80:
        return False
    return not (len_s > 1 and sig[len_r + 6] == 0 and not sig[len_r + 7] & 0x80)


def check_signature_encoding(sig: bytes, flags: int) -> None:
    """`CheckSignatureEncoding`: the empty signature is always allowed (it is how one says 'no')."""
    if not sig:
        return
    if flags & (_DERSIG | _LOW_S | _STRICTENC) and not is_valid_signature_encoding(sig):
        raise ScriptError("SIG_DER")
    if flags & _LOW_S and not is_low_s(sig[:-1]):
        raise ScriptError("SIG_HIGH_S")
    if flags & _STRICTENC and not 1 <= sig[-1] & 0x7F <= 3:
        raise ScriptError("SIG_HASHTYPE")


def check_pubkey_encoding(pubkey: bytes, flags: int, sigversion: SigVersion) -> None:
    """STRICTENC: compressed (33 bytes, 02/03) or uncompressed (65 bytes, 04); segwit v0: compressed only."""
    n = len(pubkey)
    compressed = n == 33 and pubkey[0] in (2, 3)
    if flags & _STRICTENC and not (compressed or (n == 65 and pubkey[0] == 4)):
        raise ScriptError("PUBKEYTYPE")
    if flags & _WITNESS_PUBKEYTYPE and sigversion == _WITNESS_V0 and not compressed:
        raise ScriptError("WITNESS_PUBKEYTYPE")


def find_and_delete(script: bytes, needle: bytes) -> tuple[bytes, int]:
    """Core's FindAndDelete: remove every occurrence of `needle` that starts at an operation boundary."""
    if not needle or needle not in script:
        return script, 0
    found = 0
    out = bytearray()
    size = len(needle)
    end = len(script)
    pc = copied = 0
    while True:
        out += script[copied:pc]
        while end - pc >= size and script.startswith(needle, pc):
            pc += size
            found += 1
        copied = pc
        if pc >= end:
            break
        opcode, _, pc = get_op(script, pc)
        if opcode < 0:
            break
    if not found:
        return script, 0
    out += script[copied:]
    return bytes(out), found


def _num(data: bytes, minimal: bool, max_size: int = 4) -> int:
    try:
        return decode_num(data, minimal, max_size)
    except ScriptNumError:
        raise ScriptError("SCRIPTNUM") from None


def _checksig(
    sig: bytes,
    pubkey: bytes,
    script_code: bytes,
    execdata: ExecData,
    flags: int,
    checker: SignatureChecker,
    sigversion: SigVersion,
) -> bool:
    """`EvalChecksig`: False is a failed check the script may go on from; a rule broken raises."""
    if sigversion == _TAPSCRIPT:
        # BIP342's order matters: the budget is charged first, unknown key types succeed before the
        # signature is looked at, and a non-empty signature that fails ends the script.
        success = bool(sig)
        if success:
            execdata.weight_left -= VALIDATION_WEIGHT_PER_SIGOP_PASSED
            if execdata.weight_left < 0:
                raise ScriptError("TAPSCRIPT_VALIDATION_WEIGHT")
        if not pubkey:
            raise ScriptError("TAPSCRIPT_EMPTY_PUBKEY")
        if len(pubkey) == 32:
            if success:
                checker.check_schnorr(sig, pubkey, sigversion, execdata)
        elif flags & _DISCOURAGE_UPGRADABLE_PUBKEYTYPE:
            raise ScriptError("DISCOURAGE_UPGRADABLE_PUBKEYTYPE")
        return success
    if sigversion == _BASE:
        # A legacy signature cannot sign itself: it is removed from the script code it hashes.
        script_code, found = find_and_delete(script_code, encode_push(sig))
        if found and flags & _CONST_SCRIPTCODE:
            raise ScriptError("SIG_FINDANDDELETE")
    check_signature_encoding(sig, flags)
    check_pubkey_encoding(pubkey, flags, sigversion)
    success = checker.check_ecdsa(sig, pubkey, script_code, sigversion)
    if not success and flags & _NULLFAIL and sig:
        raise ScriptError("NULLFAIL")
    return success


def eval_script(
    stack: list[bytes],
    script: bytes,
    flags: int,
    checker: SignatureChecker,
    sigversion: SigVersion,
    execdata: ExecData | None = None,
) -> None:
    """Run `script` on `stack` (modified in place); raise ScriptError on the first rule it breaks."""
    if execdata is None:
        execdata = ExecData()
    legacy = sigversion == _BASE or sigversion == _WITNESS_V0
    if legacy and len(script) > MAX_SCRIPT_SIZE:
        raise ScriptError("SCRIPT_SIZE")
    minimal = bool(flags & _MINIMALDATA)
    altstack: list[bytes] = []
    conditions: list[bool] = []  # one entry per open IF: is its current branch taken?
    untaken = 0  # how many of them are not (executing iff none)
    op_count = 0
    begincodehash = 0
    opcode_pos = 0
    execdata.codeseparator_pos = 0xFFFFFFFF
    end = len(script)
    pc = 0
    while pc < end:
        executing = not untaken
        opcode, data, pc = get_op(script, pc)
        if opcode < 0:
            raise ScriptError("BAD_OPCODE")
        if data is not None and len(data) > MAX_SCRIPT_ELEMENT_SIZE:
            raise ScriptError("PUSH_SIZE")
        if legacy and opcode > OP_16:  # OP_RESERVED does not count
            op_count += 1
            if op_count > MAX_OPS_PER_SCRIPT:
                raise ScriptError("OP_COUNT")
        if opcode in DISABLED_OPCODES:
            raise ScriptError("DISABLED_OPCODE")
        if opcode == OP_CODESEPARATOR and sigversion == _BASE and flags & _CONST_SCRIPTCODE:
            raise ScriptError("OP_CODESEPARATOR")  # even in an unexecuted branch

        if data is not None:
            if executing:
                if minimal and not check_minimal_push(data, opcode):
                    raise ScriptError("MINIMALDATA")
                stack.append(data)
        elif executing or OP_IF <= opcode <= OP_ENDIF:
            # Push value
            if opcode in _SMALL_NUMS:
                stack.append(_SMALL_NUMS[opcode])

            # Control
            elif opcode == OP_NOP:
                pass
            elif opcode == OP_CHECKLOCKTIMEVERIFY:
                if flags & _CHECKLOCKTIMEVERIFY:  # otherwise the NOP2 it used to be
                    if not stack:
                        raise ScriptError("INVALID_STACK_OPERATION")
                    # 5-byte operand: nLockTime is a u32, beyond 4-byte script numbers (BIP65)
                    locktime = _num(stack[-1], minimal, 5)
                    if locktime < 0:
                        raise ScriptError("NEGATIVE_LOCKTIME")
                    if not checker.check_locktime(locktime):
                        raise ScriptError("UNSATISFIED_LOCKTIME")
            elif opcode == OP_CHECKSEQUENCEVERIFY:
                if flags & _CHECKSEQUENCEVERIFY:  # otherwise the NOP3 it used to be
                    if not stack:
                        raise ScriptError("INVALID_STACK_OPERATION")
                    sequence = _num(stack[-1], minimal, 5)
                    if sequence < 0:
                        raise ScriptError("NEGATIVE_LOCKTIME")
                    # With the disable flag set the operand means nothing yet: a NOP, for future soft forks.
                    if not sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG and not checker.check_sequence(sequence):
                        raise ScriptError("UNSATISFIED_LOCKTIME")
            elif opcode == OP_NOP1 or OP_NOP4 <= opcode <= OP_NOP10:
                if flags & _DISCOURAGE_UPGRADABLE_NOPS:
                    raise ScriptError("DISCOURAGE_UPGRADABLE_NOPS")
            elif opcode == OP_IF or opcode == OP_NOTIF:
                taken = False
                if executing:
                    if not stack:
                        raise ScriptError("INVALID_STACK_OPERATION")
                    top = stack[-1]
                    not_minimal = len(top) > 1 or (len(top) == 1 and top[0] != 1)
                    if sigversion == _TAPSCRIPT and not_minimal:
                        raise ScriptError("TAPSCRIPT_MINIMALIF")  # consensus in tapscript (BIP342)
                    if sigversion == _WITNESS_V0 and flags & _MINIMALIF and not_minimal:
                        raise ScriptError("MINIMALIF")  # policy in segwit v0
                    taken = cast_to_bool(top) != (opcode == OP_NOTIF)
                    stack.pop()
                conditions.append(taken)
                untaken += not taken
            elif opcode == OP_ELSE:
                if not conditions:
                    raise ScriptError("UNBALANCED_CONDITIONAL")
                untaken += 1 if conditions[-1] else -1
                conditions[-1] = not conditions[-1]
            elif opcode == OP_ENDIF:
                if not conditions:
                    raise ScriptError("UNBALANCED_CONDITIONAL")
                untaken -= not conditions.pop()
            elif opcode == OP_VERIFY:
                if not stack:
                    raise ScriptError("INVALID_STACK_OPERATION")
                if not cast_to_bool(stack[-1]):
                    raise ScriptError("VERIFY")
                stack.pop()
            elif opcode == OP_RETURN:
                raise ScriptError("OP_RETURN")

            # Stack operations
            elif opcode == OP_TOALTSTACK:
                if not stack:
                    raise ScriptError("INVALID_STACK_OPERATION")
                altstack.append(stack.pop())
            elif opcode == OP_FROMALTSTACK:
                if not altstack:
                    raise ScriptError("INVALID_ALTSTACK_OPERATION")
                stack.append(altstack.pop())
            elif opcode == OP_2DROP:
                _need(stack, 2)
                del stack[-2:]
            elif opcode == OP_2DUP:
                _need(stack, 2)
                stack += stack[-2:]
            elif opcode == OP_3DUP:
                _need(stack, 3)
                stack += stack[-3:]
            elif opcode == OP_2OVER:
                _need(stack, 4)
                stack += stack[-4:-2]
            elif opcode == OP_2ROT:
                _need(stack, 6)
                pair = stack[-6:-4]
                del stack[-6:-4]
                stack += pair
            elif opcode == OP_2SWAP:
                _need(stack, 4)
                stack[-4:] = stack[-2:] + stack[-4:-2]
            elif opcode == OP_IFDUP:
                _need(stack, 1)
                if cast_to_bool(stack[-1]):
                    stack.append(stack[-1])
            elif opcode == OP_DEPTH:
                stack.append(encode_num(len(stack)))
            elif opcode == OP_DROP:
                _need(stack, 1)
                stack.pop()
            elif opcode == OP_DUP:
                _need(stack, 1)
                stack.append(stack[-1])
            elif opcode == OP_NIP:
                _need(stack, 2)
                del stack[-2]
            elif opcode == OP_OVER:
                _need(stack, 2)
                stack.append(stack[-2])
            elif opcode == OP_PICK or opcode == OP_ROLL:
                _need(stack, 2)
                n = _num(stack[-1], minimal)
                stack.pop()
                if n < 0 or n >= len(stack):
                    raise ScriptError("INVALID_STACK_OPERATION")
                item = stack[-n - 1]
                if opcode == OP_ROLL:
                    del stack[-n - 1]
                stack.append(item)
            elif opcode == OP_ROT:
                _need(stack, 3)
                stack[-3:] = [stack[-2], stack[-1], stack[-3]]
            elif opcode == OP_SWAP:
                _need(stack, 2)
                stack[-2], stack[-1] = stack[-1], stack[-2]
            elif opcode == OP_TUCK:
                _need(stack, 2)
                stack.insert(len(stack) - 2, stack[-1])
            elif opcode == OP_SIZE:
                _need(stack, 1)
                stack.append(encode_num(len(stack[-1])))

            # Bitwise logic (only equality is enabled)
            elif opcode == OP_EQUAL or opcode == OP_EQUALVERIFY:
                _need(stack, 2)
                equal = stack.pop() == stack.pop()
                if opcode == OP_EQUALVERIFY:
                    if not equal:
                        raise ScriptError("EQUALVERIFY")
                else:
                    stack.append(_TRUE if equal else _FALSE)

            # Arithmetic on 4-byte script numbers (results may be longer)
            elif opcode in _UNARY:
                _need(stack, 1)
                n = _num(stack[-1], minimal)
                if opcode == OP_1ADD:
                    n += 1
                elif opcode == OP_1SUB:
                    n -= 1
                elif opcode == OP_NEGATE:
                    n = -n
                elif opcode == OP_ABS:
                    n = abs(n)
                elif opcode == OP_NOT:
                    n = int(n == 0)
                else:
                    n = int(n != 0)
                stack[-1] = encode_num(n)
            elif opcode in _BINARY:
                _need(stack, 2)
                a = _num(stack[-2], minimal)
                b = _num(stack[-1], minimal)
                del stack[-2:]
                stack.append(encode_num(_binary(opcode, a, b)))
                if opcode == OP_NUMEQUALVERIFY:
                    if not cast_to_bool(stack[-1]):
                        raise ScriptError("NUMEQUALVERIFY")
                    stack.pop()
            elif opcode == OP_WITHIN:
                _need(stack, 3)
                x = _num(stack[-3], minimal)
                low = _num(stack[-2], minimal)
                high = _num(stack[-1], minimal)
                del stack[-3:]
                stack.append(_TRUE if low <= x < high else _FALSE)

            # Crypto
            elif opcode in _HASHES:
                _need(stack, 1)
                stack[-1] = _HASHES[opcode](stack[-1])
            elif opcode == OP_CODESEPARATOR:
                begincodehash = pc  # signatures hash the script from here on
                execdata.codeseparator_pos = opcode_pos
            elif opcode == OP_CHECKSIG or opcode == OP_CHECKSIGVERIFY:
                _need(stack, 2)
                success = _checksig(stack[-2], stack[-1], script[begincodehash:], execdata, flags, checker, sigversion)
                del stack[-2:]
                if opcode == OP_CHECKSIGVERIFY:
                    if not success:
                        raise ScriptError("CHECKSIGVERIFY")
                else:
                    stack.append(_TRUE if success else _FALSE)
            elif opcode == OP_CHECKSIGADD:
                if legacy:
                    raise ScriptError("BAD_OPCODE")  # tapscript only (BIP342)
                _need(stack, 3)
                n = _num(stack[-2], minimal)
                success = _checksig(stack[-3], stack[-1], b"", execdata, flags, checker, sigversion)
                del stack[-3:]
                stack.append(encode_num(n + success))
            elif opcode == OP_CHECKMULTISIG or opcode == OP_CHECKMULTISIGVERIFY:
                if sigversion == _TAPSCRIPT:
                    raise ScriptError("TAPSCRIPT_CHECKMULTISIG")
                op_count = _checkmultisig(stack, script[begincodehash:], op_count, minimal, flags, checker, sigversion)
                if opcode == OP_CHECKMULTISIGVERIFY:
                    if not cast_to_bool(stack[-1]):
                        raise ScriptError("CHECKMULTISIGVERIFY")
                    stack.pop()
            else:
                # OP_RESERVED, OP_VER, OP_VERIF, OP_VERNOTIF, OP_RESERVED1/2, unassigned, OP_INVALIDOPCODE
                raise ScriptError("BAD_OPCODE")

        if len(stack) + len(altstack) > MAX_STACK_SIZE:
            raise ScriptError("STACK_SIZE")
        opcode_pos += 1
    if conditions:
        raise ScriptError("UNBALANCED_CONDITIONAL")


def _need(stack: list[bytes], n: int) -> None:
    if len(stack) < n:
        raise ScriptError("INVALID_STACK_OPERATION")


def _binary(opcode: int, a: int, b: int) -> int:
    if opcode == OP_ADD:
        return a + b
    if opcode == OP_SUB:
        return a - b
    if opcode == OP_BOOLAND:
        return int(a != 0 and b != 0)
    if opcode == OP_BOOLOR:
        return int(a != 0 or b != 0)
    if opcode == OP_NUMEQUAL or opcode == OP_NUMEQUALVERIFY:
        return int(a == b)
    if opcode == OP_NUMNOTEQUAL:
        return int(a != b)
    if opcode == OP_LESSTHAN:
        return int(a < b)
    if opcode == OP_GREATERTHAN:
        return int(a > b)
    if opcode == OP_LESSTHANOREQUAL:
        return int(a <= b)
    if opcode == OP_GREATERTHANOREQUAL:
        return int(a >= b)
    if opcode == OP_MIN:
        return min(a, b)
    return max(a, b)


def _checkmultisig(
    stack: list[bytes],
    script_code: bytes,
    op_count: int,
    minimal: bool,
    flags: int,
    checker: SignatureChecker,
    sigversion: SigVersion,
) -> int:
    """([dummy] sig… m key… n -- bool): signatures in key order, each key tried once. Returns the new op count
    (every key counts as an operation)."""
    i = 1
    _need(stack, i)
    n_keys = _num(stack[-i], minimal)
    if n_keys < 0 or n_keys > MAX_PUBKEYS_PER_MULTISIG:
        raise ScriptError("PUBKEY_COUNT")
    op_count += n_keys
    if op_count > MAX_OPS_PER_SCRIPT:
        raise ScriptError("OP_COUNT")
    i += 1
    ikey = i
    # Depth of the last non-signature item: NULLFAIL looks at what lies below it once the check failed.
    ikey2 = n_keys + 2
    i += n_keys
    _need(stack, i)
    n_sigs = _num(stack[-i], minimal)
    if n_sigs < 0 or n_sigs > n_keys:
        raise ScriptError("SIG_COUNT")
    i += 1
    isig = i
    i += n_sigs
    _need(stack, i)

    if sigversion == _BASE:
        for k in range(n_sigs):
            script_code, found = find_and_delete(script_code, encode_push(stack[-isig - k]))
            if found and flags & _CONST_SCRIPTCODE:
                raise ScriptError("SIG_FINDANDDELETE")

    success = True
    while success and n_sigs > 0:
        sig = stack[-isig]
        pubkey = stack[-ikey]
        # The encodings are checked pair by pair, so which pairs were reached is observable under STRICTENC.
        check_signature_encoding(sig, flags)
        check_pubkey_encoding(pubkey, flags, sigversion)
        if checker.check_ecdsa(sig, pubkey, script_code, sigversion):
            isig += 1
            n_sigs -= 1
        ikey += 1
        n_keys -= 1
        if n_sigs > n_keys:  # more signatures left than keys: it can no longer succeed
            success = False

    while i > 1:
        i -= 1
        if not success and flags & _NULLFAIL and not ikey2 and stack[-1]:
            raise ScriptError("NULLFAIL")
        if ikey2 > 0:
            ikey2 -= 1
        stack.pop()
    # The historical off-by-one: one more element is consumed, which BIP147 (NULLDUMMY) requires be empty.
    _need(stack, 1)
    if flags & _NULLDUMMY and stack[-1]:
        raise ScriptError("SIG_NULLDUMMY")
    stack.pop()
    stack.append(_TRUE if success else _FALSE)
    return op_count


def execute_witness_script(
    items: Sequence[bytes],
    script: bytes,
    flags: int,
    sigversion: SigVersion,
    checker: SignatureChecker,
    execdata: ExecData,
) -> None:
    """Run a witness script on the witness items; it must leave exactly one true element (implicit CLEANSTACK)."""
    stack = list(items)
    if sigversion == _TAPSCRIPT:
        # An OP_SUCCESSx anywhere makes the script succeed before anything else is checked (BIP342).
        pc = 0
        while pc < len(script):
            opcode, _, pc = get_op(script, pc)
            if opcode < 0:
                raise ScriptError("BAD_OPCODE")
            if is_op_success(opcode):
                if flags & _DISCOURAGE_OP_SUCCESS:
                    raise ScriptError("DISCOURAGE_OP_SUCCESS")
                return
        if len(stack) > MAX_STACK_SIZE:
            raise ScriptError("STACK_SIZE")
    for item in stack:
        if len(item) > MAX_SCRIPT_ELEMENT_SIZE:
            raise ScriptError("PUSH_SIZE")
    eval_script(stack, script, flags, checker, sigversion, execdata)
    if len(stack) != 1:
        raise ScriptError("CLEANSTACK")
    if not cast_to_bool(stack[-1]):
        raise ScriptError("EVAL_FALSE")


def verify_witness_program(
    witness: Sequence[bytes],
    version: int,
    program: bytes,
    flags: int,
    checker: SignatureChecker,
    p2sh_wrapped: bool,
) -> None:
    """BIP141 / BIP341: spend a witness program with the input's witness stack (P2SH-wrapped: BIP141's
    P2SH-P2WPKH / P2SH-P2WSH; taproot is never wrapped)."""
    execdata = ExecData()
    stack = list(witness)
    if version == 0:
        if len(program) == WITNESS_V0_SCRIPTHASH_SIZE:  # P2WSH: the last item is the script, SHA-256 committed
            if not stack:
                raise ScriptError("WITNESS_PROGRAM_WITNESS_EMPTY")
            script = stack.pop()
            if sha256(script) != program:
                raise ScriptError("WITNESS_PROGRAM_MISMATCH")
            execute_witness_script(stack, script, flags, _WITNESS_V0, checker, execdata)
        elif len(program) == WITNESS_V0_KEYHASH_SIZE:  # P2WPKH: <sig> <pubkey> against an implied P2PKH script
            if len(stack) != 2:
                raise ScriptError("WITNESS_PROGRAM_MISMATCH")
            script = bytes((OP_DUP, OP_HASH160, 20)) + program + bytes((OP_EQUALVERIFY, OP_CHECKSIG))
            execute_witness_script(stack, script, flags, _WITNESS_V0, checker, execdata)
        else:
            raise ScriptError("WITNESS_PROGRAM_WRONG_LENGTH")
    elif version == 1 and len(program) == WITNESS_V1_TAPROOT_SIZE and not p2sh_wrapped:
        if not flags & _TAPROOT_FLAG:
            return
        if not stack:
            raise ScriptError("WITNESS_PROGRAM_WITNESS_EMPTY")
        if len(stack) >= 2 and stack[-1] and stack[-1][0] == ANNEX_TAG:
            execdata.annex_sha = annex_hash(stack.pop())
        if len(stack) == 1:  # key path: one Schnorr signature by the output key
            checker.check_schnorr(stack[0], program, _TAPROOT, execdata)
            return
        control = stack.pop()
        script = stack.pop()
        if (
            len(control) < TAPROOT_CONTROL_BASE_SIZE
            or len(control) > TAPROOT_CONTROL_MAX_SIZE
            or (len(control) - TAPROOT_CONTROL_BASE_SIZE) % TAPROOT_CONTROL_NODE_SIZE
        ):
            raise ScriptError("TAPROOT_WRONG_CONTROL_SIZE")
        leaf_version = control[0] & TAPROOT_LEAF_MASK
        execdata.tapleaf_hash = tapleaf_hash(leaf_version, script)
        if not verify_commitment(control, program, execdata.tapleaf_hash):
            raise ScriptError("WITNESS_PROGRAM_MISMATCH")
        if leaf_version == TAPROOT_LEAF_TAPSCRIPT:
            execdata.weight_left = len(serialize_witness(witness)) + VALIDATION_WEIGHT_OFFSET
            execute_witness_script(stack, script, flags, _TAPSCRIPT, checker, execdata)
        elif flags & _DISCOURAGE_UPGRADABLE_TAPROOT_VERSION:
            raise ScriptError("DISCOURAGE_UPGRADABLE_TAPROOT_VERSION")
    elif version == 1 and program == PAY_TO_ANCHOR_PROGRAM and not p2sh_wrapped:
        return
    elif flags & _DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM:
        raise ScriptError("DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM")
    # any other version / size / P2SH combination succeeds: room for future soft forks


def verify_script(
    script_sig: bytes,
    script_pubkey: bytes,
    witness: Sequence[bytes],
    flags: int,
    checker: SignatureChecker,
) -> None:
    """`VerifyScript`: scriptSig, then scriptPubKey on the stack it left (not concatenated: CVE-2010-5141),
    then P2SH and witness programs as the flags enable them."""
    flags = int(flags)
    if not is_valid_combination(flags):
        raise ValueError("CLEANSTACK needs WITNESS, and WITNESS needs P2SH")
    if flags & _SIGPUSHONLY and not is_push_only(script_sig):
        raise ScriptError("SIG_PUSHONLY")
    stack: list[bytes] = []
    eval_script(stack, script_sig, flags, checker, _BASE)
    stack_copy = list(stack) if flags & _P2SH else []
    eval_script(stack, script_pubkey, flags, checker, _BASE)
    if not stack or not cast_to_bool(stack[-1]):
        raise ScriptError("EVAL_FALSE")

    had_witness = False
    if flags & _WITNESS:
        program = witness_program(script_pubkey)
        if program is not None:
            had_witness = True
            if script_sig:
                raise ScriptError("WITNESS_MALLEATED")  # a native witness spend has an empty scriptSig
            verify_witness_program(witness, *program, flags, checker, p2sh_wrapped=False)
            del stack[1:]  # the stack left by the scriptPubKey is not subject to CLEANSTACK

    if flags & _P2SH and is_p2sh(script_pubkey):
        if not is_push_only(script_sig):
            raise ScriptError("SIG_PUSHONLY")
        stack = stack_copy
        redeem_script = stack.pop()  # not empty: HASH160 on an empty stack would have failed already
        eval_script(stack, redeem_script, flags, checker, _BASE)
        if not stack or not cast_to_bool(stack[-1]):
            raise ScriptError("EVAL_FALSE")
        if flags & _WITNESS:
            program = witness_program(redeem_script)
            if program is not None:
                had_witness = True
                if script_sig != encode_push(redeem_script):
                    raise ScriptError("WITNESS_MALLEATED_P2SH")  # exactly one push of the redeem script
                verify_witness_program(witness, *program, flags, checker, p2sh_wrapped=True)
                del stack[1:]

    if flags & _CLEANSTACK and len(stack) != 1:
        raise ScriptError("CLEANSTACK")
    if flags & _WITNESS and not had_witness and witness:
        raise ScriptError("WITNESS_UNEXPECTED")


def verify_input(
    tx: Tx,
    index: int,
    spent_outputs: Sequence[tuple[int, bytes]],
    flags: int,
    pre: PrecomputedTx | None = None,
) -> None:
    """Verify input `index` of `tx`. `spent_outputs` holds (amount in satoshis, scriptPubKey) for *every* input,
    in order — BIP341 signatures commit to all of them. Pass `pre` to share the per-transaction hashes."""
    if pre is None:
        pre = PrecomputedTx(tx, spent_outputs)
    amount, script_pubkey = spent_outputs[index]
    txin = tx.inputs[index]
    verify_script(txin.script_sig, script_pubkey, txin.witness, flags, TxChecker(pre, index, amount))


def verify_tx(tx: Tx, spent_outputs: Sequence[tuple[int, bytes]], flags: int) -> None:
    """Verify every input of `tx`; the first failing one raises."""
    pre = PrecomputedTx(tx, spent_outputs)
    for index in range(len(tx.inputs)):
        verify_input(tx, index, spent_outputs, flags, pre)
