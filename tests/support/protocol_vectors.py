"""Computes the known answers recorded in docs/PROTOCOL.md and tests/data/protocol_vectors.json.

Run `python -m tests.support.protocol_vectors` to print them; tests/test_protocol.py checks that the
code still produces every recorded value and that the document shows each of them.
"""

from __future__ import annotations

import json
from pathlib import Path

from nacl.signing import SigningKey

from chain.blocks import Header
from chain.coins import coin_txid
from chain.dispatcher import Receipt
from chain.genesis import CHAIN_ID_KEY, load
from chain.hashing import merkle_root
from chain.ledger import NATIVE_MINT, MintRecord, balance_slot, mint_slot
from chain.node import encode_diff
from chain.state import State
from chain.tree import build_root

ROOT = Path(__file__).resolve().parents[2]


def compute() -> dict[str, str]:
    key = SigningKey(bytes(range(32)))
    header = Header(
        1,
        b"\x11" * 32,
        1767225600400,
        b"\x22" * 32,
        merkle_root([b"\x50" + b"\x01" * 32 + b"v"]),
        merkle_root([]),
        key.verify_key.encode(),
    ).sign(key)
    receipt = Receipt(False, 1, 0, "kv_failed", "asked to fail", b"", [])
    diff = encode_diff([(b"\x01" * 32, None, b"\xab"), (b"\x02" * 32, b"\xcd", None)])
    gen = load(ROOT / "chain" / "genesis.json")
    state = State({})
    gen.populate(state)
    entries = {k: v for k, v in state.block_diff().items() if v is not None}
    return {
        "validator_seed": bytes(range(32)).hex(),
        "header_unsigned": header.unsigned().hex(),
        "header_signature": header.signature.hex(),
        "header_hash": header.hash.hex(),
        "receipt": receipt.encode().hex(),
        "diff": diff.hex(),
        "chain_id_key": CHAIN_ID_KEY.hex(),
        "native_mint": NATIVE_MINT.hex(),
        "native_mint_slot": mint_slot(NATIVE_MINT).hex(),
        "native_mint_record": entries[mint_slot(NATIVE_MINT)].hex(),
        "genesis_balance_slot_0": balance_slot(NATIVE_MINT, gen.accounts[0].id_com).hex(),
        "genesis_root": build_root(entries).hex(),
        "mint_record_example": MintRecord(1005, 9, bytes(32), "NVM", "n-VM").encode().hex(),
        "coin_txid_0": coin_txid(bytes(32), 0).hex(),
        **native_vectors(),
        **svm_vectors(),
        "bvm_ace_digest": bvm_ace_digest(),
        **tvm_vectors(),
        **statefile_vectors(),
    }


def native_vectors() -> dict[str, str]:
    from chain.address import addresses_of
    from chain.identity import id_com
    from engines.native import tx as t
    from engines.native.client import AceSigner

    rev = bytes.fromhex("1111111111111111111111111111111111111111111111111111111111111111")
    signer = AceSigner(rev, 7231053)
    to = t.Ref(t.REF_EVM, bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266"))
    transfer = signer.envelope(t.TRANSFER, 1, context=bytes(range(16)), mint=NATIVE_MINT, to=to, amount=1_500_000_000)
    return {
        "ace_rev": rev.hex(),
        "ace_id_com": id_com(rev).hex(),
        "ace_evm": addresses_of(id_com(rev))["evm"],
        "ace_btc": addresses_of(id_com(rev))["btc"],
        "native_create_account": signer.create_account().hex(),
        "native_transfer": transfer.hex(),
        "native_transfer_digest": t.digest_of(transfer[:-97]).hex(),
    }


def bvm_ace_digest() -> str:
    """A 0x31 spend's digest: id_com 0…0 on chain 7231053 spending coin (txid 0…0, vout 0) to one P2TR output."""
    from engines.bvm.engine import ace_digest, ace_unsigned

    tx = bytes.fromhex(
        "02000000"
        "01"
        + "00" * 36
        + "00"
        + "ffffffff"
        + "01"
        + (10_000).to_bytes(8, "little").hex()
        + "22"
        + "5120"
        + "11" * 32
        + "00000000"
    )
    return ace_digest(ace_unsigned(7231053, bytes(32), tx)).hex()


def svm_vectors() -> dict[str, str]:
    from solders.hash import Hash
    from solders.keypair import Keypair
    from solders.message import Message
    from solders.signature import Signature
    from solders.system_program import TransferParams, transfer
    from solders.transaction import Transaction

    from engines.svm.accounts import record_key
    from engines.svm.ace import ace_digest, ace_unsigned
    from engines.svm.engine import signature_key
    from engines.svm.programs import ACE_PROGRAM
    from rpc.solana.chaindata import native_signature

    payer, to = Keypair.from_seed(bytes(range(32))), Keypair.from_seed(bytes(range(1, 33)))
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to.pubkey(), lamports=10**9))
    tx = Transaction([payer], Message([ix], payer.pubkey()), Hash(bytes(range(32))))
    ace_message = bytes(Message([ix], payer.pubkey()))
    return {
        "svm_transfer_envelope": (b"\x20" + bytes(tx)).hex(),
        "svm_transfer_signature": str(tx.signatures[0]),
        "svm_processed_key": signature_key(bytes(tx.signatures[0])).hex(),
        "svm_record_key": record_key(bytes(payer.pubkey())).hex(),
        "svm_ace_program_id": ACE_PROGRAM.hex(),
        "svm_ace_digest": ace_digest(ace_unsigned(7231053, bytes(32), ace_message)).hex(),
        "svm_native_signature": str(Signature(native_signature(bytes(range(32))))),
    }


def tvm_vectors() -> dict[str, str]:
    """TVM contract addresses (CreateSmartContract, CREATE, CREATE2), account keys and ValidateMultiSign's digest."""
    import hashlib

    from eth_hash.auto import keccak

    from engines.evm.accounts import code_key
    from engines.tvm.accounts import TronAccounts, contract_key
    from engines.tvm.engine import ace_digest, ace_unsigned, contract_address_of

    txid, owner = bytes(range(32)), b"\x41" + bytes(range(100, 120))
    creator, salt, initcode = bytes(range(20)), (0x1234).to_bytes(32, "big"), bytes.fromhex("6001600c60003960016000f300")
    return {
        "tvm_contract_address": contract_address_of(txid, owner).hex(),
        "tvm_create_address_nonce_0": (b"\x41" + keccak(txid + (0).to_bytes(8, "big"))[12:]).hex(),
        "tvm_create2_address": (b"\x41" + keccak(b"\x41" + creator + salt + keccak(initcode))[12:]).hex(),
        "tvm_code_key": code_key(creator, TronAccounts.NS).hex(),
        "tvm_contract_key": contract_key(creator).hex(),
        "tvm_multisign_digest": hashlib.sha256(owner + (2).to_bytes(4, "big") + bytes(32)).hexdigest(),
        "tvm_ace_digest": ace_digest(ace_unsigned(7231053, bytes(32), bytes.fromhex("0a020001"))).hex(),
    }


def statefile_vectors() -> dict[str, str]:
    """A state file of one block (§16.1): a genesis of one legacy EVM account on chain 7231053, signed by the
    validator of seed 00…1f; its lines as written, their SHA-256, and its head's hash."""
    import gzip
    import hashlib
    import io

    from chain import statefile
    from chain.blocks import GENESIS_PARENT
    from chain.genesis import parse

    key = SigningKey(bytes(range(32)))
    gen = parse(
        {
            "chain_id": 7231053,
            "timestamp_ms": 1767225600000,
            "alloc": [{"legacy": "evm", "address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "balance": "1000"}],
        }
    )
    state = State({})
    gen.populate(state)
    entries = {k: v for k, v in state.block_diff().items() if v is not None}
    empty = merkle_root([])
    head = Header(0, GENESIS_PARENT, gen.timestamp_ms, build_root(entries), empty, empty, key.verify_key.encode()).sign(key)
    addresses = sorted((n[1], n[2], n[3], 0) for n in state.notes if n[0] == "address")
    mints = sorted((n[1], 0) for n in state.notes if n[0] == "mint")
    out = io.BytesIO()
    counts = statefile.Counts(len(entries), len(addresses), len(mints), 1, 0)
    block = statefile.FileBlock(head, None, [])
    statefile.write(out, 7231053, head.hash, head, counts, sorted(entries.items()), addresses, mints, [block])
    lines = gzip.decompress(out.getvalue())
    return {
        "statefile_example_lines": lines.decode(),
        "statefile_example_sha256": hashlib.sha256(lines).hexdigest(),
        "statefile_example_head_hash": head.hash.hex(),
    }


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nvmsite.settings")
    django.setup()
    print(json.dumps(compute(), indent=2))
