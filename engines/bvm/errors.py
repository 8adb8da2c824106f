"""The BVM's two error types: a script that fails (`ScriptError`) and a transaction that is malformed (`TxError`).

`ScriptError.error` is Bitcoin Core's `ScriptError_t` under the name its test vectors use
(`src/test/script_tests.cpp`, `script_errors[]`: the enum name without `SCRIPT_ERR_`, except
`SIG_NULLFAIL`, which the vectors call `NULLFAIL`); the message is Core's `ScriptErrorString`.
`TxError.reason` is Core's reject reason (`bad-txns-vin-empty`, …) or, for bytes that do not
decode, `tx-decode`.
"""

from __future__ import annotations

# Core's ScriptErrorString (src/script/script_error.cpp), keyed by the names script_tests.json uses.
SCRIPT_ERROR_MESSAGES: dict[str, str] = {
    "OK": "No error",
    "UNKNOWN_ERROR": "unknown error",
    "EVAL_FALSE": "Script evaluated without error but finished with a false/empty top stack element",
    "OP_RETURN": "OP_RETURN was encountered",
    "SCRIPT_SIZE": "Script is too big",
    "PUSH_SIZE": "Push value size limit exceeded",
    "OP_COUNT": "Operation limit exceeded",
    "STACK_SIZE": "Stack size limit exceeded",
    "SIG_COUNT": "Signature count negative or greater than pubkey count",
    "PUBKEY_COUNT": "Pubkey count negative or limit exceeded",
    "VERIFY": "Script failed an OP_VERIFY operation",
    "EQUALVERIFY": "Script failed an OP_EQUALVERIFY operation",
    "CHECKMULTISIGVERIFY": "Script failed an OP_CHECKMULTISIGVERIFY operation",
    "CHECKSIGVERIFY": "Script failed an OP_CHECKSIGVERIFY operation",
    "NUMEQUALVERIFY": "Script failed an OP_NUMEQUALVERIFY operation",
    "BAD_OPCODE": "Opcode missing or not understood",
    "DISABLED_OPCODE": "Attempted to use a disabled opcode",
    "INVALID_STACK_OPERATION": "Operation not valid with the current stack size",
    "INVALID_ALTSTACK_OPERATION": "Operation not valid with the current altstack size",
    "UNBALANCED_CONDITIONAL": "Invalid OP_IF construction",
    "NEGATIVE_LOCKTIME": "Negative locktime",
    "UNSATISFIED_LOCKTIME": "Locktime requirement not satisfied",
    "SIG_HASHTYPE": "Signature hash type missing or not understood",
    "SIG_DER": "Non-canonical DER signature",
    "MINIMALDATA": "Data push larger than necessary",
    "SIG_PUSHONLY": "Only push operators allowed in signatures",
    "SIG_HIGH_S": "Non-canonical signature: S value is unnecessarily high",
    "SIG_NULLDUMMY": "Dummy CHECKMULTISIG argument must be zero",
    "PUBKEYTYPE": "Public key is neither compressed or uncompressed",
    "CLEANSTACK": "Stack size must be exactly one after execution",
    "MINIMALIF": "OP_IF/NOTIF argument must be minimal",
    "NULLFAIL": "Signature must be zero for failed CHECK(MULTI)SIG operation",
    "DISCOURAGE_UPGRADABLE_NOPS": "NOPx reserved for soft-fork upgrades",
    "DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM": "Witness version reserved for soft-fork upgrades",
    "DISCOURAGE_UPGRADABLE_TAPROOT_VERSION": "Taproot version reserved for soft-fork upgrades",
    "DISCOURAGE_OP_SUCCESS": "OP_SUCCESSx reserved for soft-fork upgrades",
    "DISCOURAGE_UPGRADABLE_PUBKEYTYPE": "Public key version reserved for soft-fork upgrades",
    "WITNESS_PROGRAM_WRONG_LENGTH": "Witness program has incorrect length",
    "WITNESS_PROGRAM_WITNESS_EMPTY": "Witness program was passed an empty witness",
    "WITNESS_PROGRAM_MISMATCH": "Witness program hash mismatch",
    "WITNESS_MALLEATED": "Witness requires empty scriptSig",
    "WITNESS_MALLEATED_P2SH": "Witness requires only-redeemscript scriptSig",
    "WITNESS_UNEXPECTED": "Witness provided for non-witness script",
    "WITNESS_PUBKEYTYPE": "Using non-compressed keys in segwit",
    "SCHNORR_SIG_SIZE": "Invalid Schnorr signature size",
    "SCHNORR_SIG_HASHTYPE": "Invalid Schnorr signature hash type",
    "SCHNORR_SIG": "Invalid Schnorr signature",
    "TAPROOT_WRONG_CONTROL_SIZE": "Invalid Taproot control block size",
    "TAPSCRIPT_VALIDATION_WEIGHT": "Too much signature validation relative to witness weight",
    "TAPSCRIPT_CHECKMULTISIG": "OP_CHECKMULTISIG(VERIFY) is not available in tapscript",
    "TAPSCRIPT_MINIMALIF": "OP_IF/NOTIF argument must be minimal in tapscript",
    "TAPSCRIPT_EMPTY_PUBKEY": "Empty public key in tapscript",
    "OP_CODESEPARATOR": "Using OP_CODESEPARATOR in non-witness script",
    "SIG_FINDANDDELETE": "Signature is found in scriptCode",
    "SCRIPTNUM": "Script number overflowed or is non-minimally encoded",
}


class ScriptError(Exception):
    """A script that does not verify; `error` is Core's name for why (a key of SCRIPT_ERROR_MESSAGES)."""

    def __init__(self, error: str) -> None:
        if error not in SCRIPT_ERROR_MESSAGES:
            raise ValueError(f"unknown script error {error!r}")
        self.error = error
        self.message = SCRIPT_ERROR_MESSAGES[error]
        super().__init__(f"{error}: {self.message}")


class TxError(ValueError):
    """A transaction that does not decode or fails Core's context-free checks (`CheckTransaction`)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {message}")
