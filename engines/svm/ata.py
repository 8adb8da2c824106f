"""The Associated Token Account program (`ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL`) as
spl-associated-token-account 2.x runs it (docs/PROTOCOL.md §13).

Create (data empty or `[0]`) and CreateIdempotent (`[1]`), with the accounts payer (writable signer),
the associated token account (writable), wallet, mint, System program, Token program. The address
must be `find_program_address([wallet, token program, mint], ATA program)` (else InvalidSeeds).
CreateIdempotent on an existing ATA of that wallet and mint succeeds and changes nothing; Create on
an account that is not a plain system account fails with IllegalOwner, as the real program does.
Creating takes the real program's steps, each a cross-program invocation with Solana's log lines:
GetAccountDataSize from the Token program (its return data, 165), the System program's CreateAccount
for the ATA — a PDA of this program, so it signs — funded with the rent-exempt minimum (or, for an
address that already holds lamports, Transfer of what is missing, Allocate and Assign), then the Token
program's InitializeImmutableOwner and InitializeAccount3.

The token account it creates shows the wallet's own ledger balance of the mint (engines/svm/token.py),
so creating the ATA of a wallet that already holds tokens — received through the EVM, say — shows
them at once. RecoverNested (`[2]`) is not supported on this devnet.
"""

from __future__ import annotations

import struct

from . import accounts as acc
from .accounts import SYSTEM_PROGRAM, rent_exempt_minimum
from .engine import DESCRIBERS
from .errors import ProgramError, custom
from .programs import ATA_PROGRAM
from .runtime import Invocation, Meta, b58, register
from .token import derive_ata, token_account

# Compute units: approximations of spl-associated-token-account's own cost (its CPIs are charged by
# their programs): the address derivation and checks, and the creation's invocations.
DERIVE_CU = 4_000
CREATE_CU = 9_000

INVALID_OWNER = 0  # AssociatedTokenAccountError::InvalidOwner
IMMUTABLE_OWNER_EXTENSION = 7  # spl-token-2022's ExtensionType::ImmutableOwner, as the real program asks for it
INSTRUCTIONS = {b"": "Create", b"\x00": "Create", b"\x01": "CreateIdempotent", b"\x02": "RecoverNested"}


def _create_pda(inv: Invocation, payer: Meta, ata: Meta, space: int, owner: bytes) -> None:
    """spl-associated-token-account's `create_pda_account`: the System program allocates the ATA for `owner`."""
    rent = max(rent_exempt_minimum(space), 1)
    funder = Meta(payer.pubkey, payer.signer, payer.writable)
    signed = Meta(ata.pubkey, True, ata.writable)  # the ATA is this program's PDA: it signs for it
    have = inv.rt.lamports(ata.pubkey)
    if have == 0:
        inv.invoke(SYSTEM_PROGRAM, [funder, signed], struct.pack("<IQQ", 0, rent, space) + owner)
        return
    if rent > have:
        inv.invoke(SYSTEM_PROGRAM, [funder, Meta(ata.pubkey, False, ata.writable)], struct.pack("<IQ", 2, rent - have))
    inv.invoke(SYSTEM_PROGRAM, [signed], struct.pack("<IQ", 8, space))
    inv.invoke(SYSTEM_PROGRAM, [signed], struct.pack("<I", 1) + owner)


@register(ATA_PROGRAM, "Associated Token Account", builtin=False)
def associated_token_account(inv: Invocation) -> None:
    inv.rt.consume(DERIVE_CU)
    name = INSTRUCTIONS.get(inv.data)
    if name is None:
        raise ProgramError("InvalidInstructionData", "not an Associated Token Account instruction")
    inv.log(name)
    if name == "RecoverNested":
        raise ProgramError("InvalidInstructionData", "RecoverNested is not supported on this devnet")
    payer, ata, wallet, mint, _system, token = (inv.account(i) for i in range(6))
    if derive_ata(wallet.pubkey, token.pubkey, mint.pubkey) != ata.pubkey:
        inv.log("Error: Associated address does not match seed derivation")
        raise ProgramError("InvalidSeeds", f"{b58(ata.pubkey)} is not the associated token account of {b58(wallet.pubkey)}")
    state = inv.state
    info = acc.account_info(state, ata.pubkey)
    owner = SYSTEM_PROGRAM if info is None else info.owner
    if name == "CreateIdempotent" and owner == token.pubkey:
        existing = token_account(state, ata.pubkey)
        if existing is not None:
            if existing.owner != wallet.pubkey:
                inv.log("Associated token account owner does not match address derivation")
                raise custom(INVALID_OWNER)
            if existing.mint != mint.pubkey:
                raise ProgramError("InvalidAccountData", f"{b58(ata.pubkey)} is a token account of another mint")
            return
    if owner != SYSTEM_PROGRAM:
        raise ProgramError("IllegalOwner", f"{b58(ata.pubkey)} already exists, owned by {b58(owner)}")
    inv.rt.consume(CREATE_CU)
    mint_ro = Meta(mint.pubkey, False, False)
    inv.invoke(token.pubkey, [mint_ro], struct.pack("<BH", 21, IMMUTABLE_OWNER_EXTENSION))  # GetAccountDataSize
    returned = inv.rt.return_data
    if returned is None or returned[0] != token.pubkey:
        raise ProgramError("IncorrectProgramId", "the token program returned no account size")
    if len(returned[1]) != 8:
        raise ProgramError("InvalidInstructionData", "the token program's account size is not a u64")
    _create_pda(inv, payer, ata, int.from_bytes(returned[1], "little"), token.pubkey)
    inv.log("Initialize the associated token account")
    account = Meta(ata.pubkey, False, ata.writable)
    inv.invoke(token.pubkey, [account], bytes((22,)))  # InitializeImmutableOwner
    inv.invoke(token.pubkey, [account, mint_ro], bytes((18,)) + wallet.pubkey)  # InitializeAccount3


def describe(data: bytes, accounts: list[bytes]) -> str:
    name = INSTRUCTIONS[data]
    if name == "RecoverNested":
        return "recover nested associated token account"
    how = "create" if name == "Create" else "create if missing"
    return f"{how} the associated token account {b58(accounts[1])} of {b58(accounts[2])} for mint {b58(accounts[3])}"


DESCRIBERS[ATA_PROGRAM] = describe
