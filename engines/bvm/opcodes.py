"""The script alphabet: opcodes, how a script is cut into operations, script numbers, and Core's text form.

Names and values are Bitcoin Core's (`src/script/script.h`); `get_op` is `GetScriptOp`, `encode_push`
is `CScript << bytes`, `decode_num` / `encode_num` are `CScriptNum`, and `parse_script` is Core's
`ParseScript` (`src/core_io.cpp`), the notation of its test vectors ("0x4c 0x01 0x07 DUP 'abc' 1").
"""

from __future__ import annotations

# push value
OP_0 = 0x00
OP_PUSHDATA1 = 0x4C
OP_PUSHDATA2 = 0x4D
OP_PUSHDATA4 = 0x4E
OP_1NEGATE = 0x4F
OP_RESERVED = 0x50
OP_1 = 0x51
OP_16 = 0x60
# control
OP_NOP = 0x61
OP_VER = 0x62
OP_IF = 0x63
OP_NOTIF = 0x64
OP_VERIF = 0x65
OP_VERNOTIF = 0x66
OP_ELSE = 0x67
OP_ENDIF = 0x68
OP_VERIFY = 0x69
OP_RETURN = 0x6A
# stack
OP_TOALTSTACK = 0x6B
OP_FROMALTSTACK = 0x6C
OP_2DROP = 0x6D
OP_2DUP = 0x6E
OP_3DUP = 0x6F
OP_2OVER = 0x70
OP_2ROT = 0x71
OP_2SWAP = 0x72
OP_IFDUP = 0x73
OP_DEPTH = 0x74
OP_DROP = 0x75
OP_DUP = 0x76
OP_NIP = 0x77
OP_OVER = 0x78
OP_PICK = 0x79
OP_ROLL = 0x7A
OP_ROT = 0x7B
OP_SWAP = 0x7C
OP_TUCK = 0x7D
# splice
OP_CAT = 0x7E
OP_SUBSTR = 0x7F
OP_LEFT = 0x80
OP_RIGHT = 0x81
OP_SIZE = 0x82
# bit logic
OP_INVERT = 0x83
OP_AND = 0x84
OP_OR = 0x85
OP_XOR = 0x86
OP_EQUAL = 0x87
OP_EQUALVERIFY = 0x88
OP_RESERVED1 = 0x89
OP_RESERVED2 = 0x8A
# numeric
OP_1ADD = 0x8B
OP_1SUB = 0x8C
OP_2MUL = 0x8D
OP_2DIV = 0x8E
OP_NEGATE = 0x8F
OP_ABS = 0x90
OP_NOT = 0x91
OP_0NOTEQUAL = 0x92
OP_ADD = 0x93
OP_SUB = 0x94
OP_MUL = 0x95
OP_DIV = 0x96
OP_MOD = 0x97
OP_LSHIFT = 0x98
OP_RSHIFT = 0x99
OP_BOOLAND = 0x9A
OP_BOOLOR = 0x9B
OP_NUMEQUAL = 0x9C
OP_NUMEQUALVERIFY = 0x9D
OP_NUMNOTEQUAL = 0x9E
OP_LESSTHAN = 0x9F
OP_GREATERTHAN = 0xA0
OP_LESSTHANOREQUAL = 0xA1
OP_GREATERTHANOREQUAL = 0xA2
OP_MIN = 0xA3
OP_MAX = 0xA4
OP_WITHIN = 0xA5
# crypto
OP_RIPEMD160 = 0xA6
OP_SHA1 = 0xA7
OP_SHA256 = 0xA8
OP_HASH160 = 0xA9
OP_HASH256 = 0xAA
OP_CODESEPARATOR = 0xAB
OP_CHECKSIG = 0xAC
OP_CHECKSIGVERIFY = 0xAD
OP_CHECKMULTISIG = 0xAE
OP_CHECKMULTISIGVERIFY = 0xAF
# expansion
OP_NOP1 = 0xB0
OP_CHECKLOCKTIMEVERIFY = 0xB1  # was OP_NOP2 (BIP65)
OP_CHECKSEQUENCEVERIFY = 0xB2  # was OP_NOP3 (BIP112)
OP_NOP4 = 0xB3
OP_NOP10 = 0xB9
OP_CHECKSIGADD = 0xBA  # BIP342, tapscript only
OP_INVALIDOPCODE = 0xFF

MAX_OPCODE = OP_CHECKSIGADD
MAX_SCRIPT_ELEMENT_SIZE = 520  # bytes pushable to the stack

# Disabled since 2010 (CVE-2010-5137): executing one fails the script even in an unexecuted branch.
DISABLED_OPCODES = frozenset(
    (
        OP_CAT,
        OP_SUBSTR,
        OP_LEFT,
        OP_RIGHT,
        OP_INVERT,
        OP_AND,
        OP_OR,
        OP_XOR,
        OP_2MUL,
        OP_2DIV,
        OP_MUL,
        OP_DIV,
        OP_MOD,
        OP_LSHIFT,
        OP_RSHIFT,
    )
)

# Core's GetOpName: the push-number opcodes are named by their value, the others with OP_.
OPCODE_NAMES: dict[int, str] = {OP_0: "0", OP_1NEGATE: "-1", **{OP_1 + n - 1: str(n) for n in range(1, 17)}}
_NAMED = """
PUSHDATA1 PUSHDATA2 PUSHDATA4 - RESERVED
NOP VER IF NOTIF VERIF VERNOTIF ELSE ENDIF VERIFY RETURN TOALTSTACK FROMALTSTACK 2DROP 2DUP 3DUP 2OVER 2ROT 2SWAP IFDUP
DEPTH DROP DUP NIP OVER PICK ROLL ROT SWAP TUCK CAT SUBSTR LEFT RIGHT SIZE INVERT AND OR XOR EQUAL EQUALVERIFY RESERVED1
RESERVED2 1ADD 1SUB 2MUL 2DIV NEGATE ABS NOT 0NOTEQUAL ADD SUB MUL DIV MOD LSHIFT RSHIFT BOOLAND BOOLOR NUMEQUAL
NUMEQUALVERIFY NUMNOTEQUAL LESSTHAN GREATERTHAN LESSTHANOREQUAL GREATERTHANOREQUAL MIN MAX WITHIN RIPEMD160 SHA1 SHA256
HASH160 HASH256 CODESEPARATOR CHECKSIG CHECKSIGVERIFY CHECKMULTISIG CHECKMULTISIGVERIFY NOP1 CHECKLOCKTIMEVERIFY
CHECKSEQUENCEVERIFY NOP4 NOP5 NOP6 NOP7 NOP8 NOP9 NOP10 CHECKSIGADD
""".split()
for _i, _name in enumerate(_NAMED):
    _op = OP_PUSHDATA1 + _i if _i < 5 else OP_NOP + _i - 5
    if _name != "-":
        OPCODE_NAMES[_op] = "OP_" + _name
OPCODE_NAMES[OP_INVALIDOPCODE] = "OP_INVALIDOPCODE"


def is_op_success(opcode: int) -> bool:
    """BIP342: the OP_SUCCESSx opcodes, which make any tapscript containing them succeed."""
    return (
        opcode in (80, 98)
        or 126 <= opcode <= 129
        or 131 <= opcode <= 134
        or 137 <= opcode <= 138
        or 141 <= opcode <= 142
        or 149 <= opcode <= 153
        or 187 <= opcode <= 254
    )


def get_op(script: bytes, pc: int) -> tuple[int, bytes | None, int]:
    """The operation at `pc`: (opcode, pushed data or None, position after it).

    A truncated push gives opcode -1 and the position Core's `GetScriptOp` would have reached
    (past the opcode and any length bytes it could read): callers that, like Core, copy bytes up to
    that point (the legacy sighash) need it.
    """
    opcode = script[pc]
    pc += 1
    if opcode > OP_PUSHDATA4:
        return opcode, None, pc
    end = len(script)
    if opcode < OP_PUSHDATA1:
        size = opcode
    elif opcode == OP_PUSHDATA1:
        if end - pc < 1:
            return -1, None, pc
        size = script[pc]
        pc += 1
    elif opcode == OP_PUSHDATA2:
        if end - pc < 2:
            return -1, None, pc
        size = int.from_bytes(script[pc : pc + 2], "little")
        pc += 2
    else:
        if end - pc < 4:
            return -1, None, pc
        size = int.from_bytes(script[pc : pc + 4], "little")
        pc += 4
    if end - pc < size:
        return -1, None, pc
    return opcode, script[pc : pc + size], pc + size


def is_push_only(script: bytes) -> bool:
    """Only pushes (OP_RESERVED counts as one, as in Core's `IsPushOnly`); a truncated push is not."""
    pc = 0
    while pc < len(script):
        opcode, _, pc = get_op(script, pc)
        if opcode < 0 or opcode > OP_16:
            return False
    return True


def is_p2sh(script: bytes) -> bool:
    """BIP16's exact template: OP_HASH160 <20 bytes> OP_EQUAL."""
    return len(script) == 23 and script[0] == OP_HASH160 and script[1] == 0x14 and script[22] == OP_EQUAL


def witness_program(script: bytes) -> tuple[int, bytes] | None:
    """(version, program) of a BIP141 witness program: a version push then one 2–40 byte direct push."""
    if not 4 <= len(script) <= 42:
        return None
    head = script[0]
    if head != OP_0 and not OP_1 <= head <= OP_16:
        return None
    if script[1] + 2 != len(script):
        return None
    return (0 if head == OP_0 else head - OP_1 + 1), script[2:]


def encode_push(data: bytes) -> bytes:
    """The push of `data` with the smallest push opcode for its size (`CScript << std::vector`), never OP_n."""
    n = len(data)
    if n < OP_PUSHDATA1:
        return bytes((n,)) + data
    if n <= 0xFF:
        return bytes((OP_PUSHDATA1, n)) + data
    if n <= 0xFFFF:
        return bytes((OP_PUSHDATA2,)) + n.to_bytes(2, "little") + data
    return bytes((OP_PUSHDATA4,)) + n.to_bytes(4, "little") + data


def encode_num(n: int) -> bytes:
    """A script number: little-endian magnitude with the sign in the top bit of the last byte; 0 is empty."""
    if n == 0:
        return b""
    magnitude = -n if n < 0 else n
    out = bytearray(magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "little"))
    if out[-1] & 0x80:
        out.append(0x80 if n < 0 else 0)
    elif n < 0:
        out[-1] |= 0x80
    return bytes(out)


class ScriptNumError(ValueError):
    """A stack element used as a number is too long or (under MINIMALDATA) not minimally encoded."""


def decode_num(data: bytes, require_minimal: bool, max_size: int = 4) -> int:
    """CScriptNum(vch, fRequireMinimal, nMaxNumSize): 4-byte operands, 5 for CHECKLOCKTIMEVERIFY / CHECKSEQUENCEVERIFY."""
    if len(data) > max_size:
        raise ScriptNumError("script number overflow")
    if not data:
        return 0
    last = data[-1]
    # Minimal: no zero top byte, unless it carries the sign bit the byte below would otherwise set.
    if require_minimal and last & 0x7F == 0 and (len(data) == 1 or not data[-2] & 0x80):
        raise ScriptNumError("non-minimally encoded script number")
    n = int.from_bytes(data, "little")
    if last & 0x80:
        return -(n & ~(0x80 << (8 * (len(data) - 1))))
    return n


def encode_small_int(n: int) -> bytes:
    """`CScript << int64`: OP_0, OP_1NEGATE, OP_1 … OP_16, or the push of a script number."""
    if n == 0:
        return bytes((OP_0,))
    if n == -1 or 1 <= n <= 16:
        return bytes((n + OP_1 - 1,))
    return encode_push(encode_num(n))


def _text_opcodes() -> dict[str, int]:
    names: dict[str, int] = {}
    for op in range(MAX_OPCODE + 1):
        if op < OP_NOP and op != OP_RESERVED:
            continue  # numbers and pushes are written as numbers and hex, not by name
        name = OPCODE_NAMES.get(op)
        if name is None:
            continue
        names[name] = op
        names[name.removeprefix("OP_")] = op
    return names


_TEXT_OPCODES = _text_opcodes()
_HEX = frozenset("0123456789abcdefABCDEF")


def parse_script(text: str) -> bytes:
    """Core's ParseScript: decimal numbers are pushed as script numbers, `0x…` is raw bytes inserted as is,
    `'…'` pushes its characters, and any other word is an opcode name with or without `OP_`."""
    out = bytearray()
    for word in text.replace("\t", " ").replace("\n", " ").split(" "):
        if not word:
            continue
        if word.isdigit() or (word[0] == "-" and len(word) > 1 and word[1:].isdigit()):
            if not word.isascii():
                raise ValueError(f"script parse error: {word!r}")
            n = int(word)
            if not -0xFFFFFFFF <= n <= 0xFFFFFFFF:
                raise ValueError("script parse error: decimal numeric value only allowed in the range -0xFFFFFFFF...0xFFFFFFFF")
            out += encode_small_int(n)
        elif word.startswith("0x") and len(word) > 2 and len(word) % 2 == 0 and set(word[2:]) <= _HEX:
            out += bytes.fromhex(word[2:])
        elif len(word) >= 2 and word[0] == "'" and word[-1] == "'":
            out += encode_push(word[1:-1].encode())
        elif word in _TEXT_OPCODES:
            out.append(_TEXT_OPCODES[word])
        else:
            raise ValueError(f"script parse error: unknown opcode {word!r}")
    return bytes(out)
