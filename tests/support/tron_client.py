"""tronpy against a live devnet, for tests/test_tron_api.py. Runs under `.venv-tron/bin/python` (tronpy needs
eth_abi<6, the project's venv has web3's eth-abi 6), never imported by the project: each subcommand prints
one JSON object that the test asserts on.

    tron_client.py transfer <api> <key hex> <to> <sun>           build, sign, broadcast, wait
    tron_client.py read <api> <address> <txid>                   account, resources, blocks, tx, tx info, params
    tron_client.py refused <api> <key hex> <to> <sun> <kind>     kind: expired | tapos | badsig
    tron_client.py rebroadcast <api> <signed tx JSON>            post a signed transaction again
    tron_client.py trc20 <api> <key hex> <to> <artifact JSON>    deploy a TRC-20, transfer, balanceOf, a revert
    tron_client.py mintview <api> <key hex> <to> <view address>  a mint's TRC-20 view: read it, transfer through it

`<api>` is the base URL with its trailing slash, e.g. http://127.0.0.1:8000/api/tron/.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tronpy import Contract, Tron
from tronpy.keys import PrivateKey
from tronpy.providers import HTTPProvider
from tronpy.tron import Transaction


def client(api: str) -> Tron:
    return Tron(HTTPProvider(api, timeout=20.0))


def transfer(api: str, key_hex: str, to: str, sun: str) -> dict[str, Any]:
    tron, key = client(api), PrivateKey(bytes.fromhex(key_hex))
    owner = key.public_key.to_base58check_address()
    before = tron.get_account_balance(owner)
    txn = tron.trx.transfer(owner, to, int(sun)).memo("hello tron").build().sign(key)
    ret = txn.broadcast()
    info = ret.wait(timeout=60, interval=0.5)
    return {
        "owner": owner,
        "owner_before_trx": str(before),
        "broadcast": dict(ret),
        "txid": txn.txid,
        "info": info,
        "signed": txn.to_json(),
    }


def read(api: str, address: str, txid: str) -> dict[str, Any]:
    tron = client(api)
    info = tron.get_transaction_info(txid)
    latest = tron.get_latest_block()
    by_num = tron.get_block(info["blockNumber"])
    return {
        "account": tron.get_account(address),
        "balance_trx": str(tron.get_account_balance(address)),
        "resource": tron.get_account_resource(address),
        "bandwidth": tron.get_bandwidth(address),
        "latest": latest,
        "latest_number": tron.get_latest_block_number(),
        "latest_id": tron.get_latest_block_id(),
        "by_num": by_num,
        "by_id": tron.get_block(by_num["blockID"]),
        "solid": tron.get_latest_solid_block(),
        "tx": tron.get_transaction(txid),
        "info": info,
        "solid_info": tron.get_solid_transaction_info(txid),
        "params": tron.get_chain_parameters(),
    }


def refused(api: str, key_hex: str, to: str, sun: str, kind: str) -> dict[str, Any]:
    """A transaction spoilt one way, posted as tronpy posts it; the node's raw answer."""
    tron, key = client(api), PrivateKey(bytes.fromhex(key_hex))
    owner = key.public_key.to_base58check_address()
    builder = tron.trx.transfer(owner, to, int(sun))
    txn = builder.build()
    raw = dict(txn._raw_data)
    if kind == "expired":
        raw["expiration"] = tron.get_latest_block()["block_header"]["raw_data"]["timestamp"] - 1_000
    elif kind == "tapos":
        raw["ref_block_hash"] = "00" * 8
    if raw != txn._raw_data:
        txn = Transaction(raw, client=tron)  # the node's getsignweight gives the new txid
    signer = PrivateKey(bytes(31) + b"\x07") if kind == "badsig" else key
    txn.set_signature([signer.sign_msg_hash(bytes.fromhex(txn.txid)).hex()])  # no local expiry/permission check
    return {"txid": txn.txid, "answer": tron.provider.make_request("wallet/broadcasttransaction", txn.to_json())}


def rebroadcast(api: str, signed: str) -> dict[str, Any]:
    return {"answer": client(api).provider.make_request("wallet/broadcasttransaction", json.loads(signed))}


def trc20(api: str, key_hex: str, to: str, artifact: str) -> dict[str, Any]:
    """Deploy the TRC-20 in `artifact` ({"abi", "initcode"}: bytecode with its constructor's arguments), then
    read it through tronpy's Contract: balanceOf (a constant call), transfer (a signed trigger), a transfer that
    reverts, and a constant call that reverts."""
    tron, key = client(api), PrivateKey(bytes.fromhex(key_hex))
    owner = key.public_key.to_base58check_address()
    art = json.loads(artifact)
    fee_limit = 1_000 * 10**6
    start_sun = tron.get_account(owner)["balance"]
    made = Contract(name="Tether", bytecode=art["initcode"], abi=art["abi"])
    deploy = tron.trx.deploy_contract(owner, made).fee_limit(fee_limit).build().sign(key)
    deployed = deploy.broadcast().wait(timeout=60, interval=0.5)
    address = tron.to_base58check_address(deployed["contract_address"])
    token = tron.get_contract(address)
    before = token.functions.balanceOf(owner)
    sent = token.functions.transfer(to, 2_500).with_owner(owner).fee_limit(fee_limit).build().sign(key)
    sent_info = sent.broadcast().wait(timeout=60, interval=0.5)
    too_much = token.functions.transfer(to, 10**30).with_owner(owner).fee_limit(fee_limit).build().sign(key)
    reverted_info = too_much.broadcast().wait(timeout=60, interval=0.5)
    try:
        tron.trigger_constant_contract(owner, address, "transfer(address,uint256)", "00" * 31 + "01" + "ff" * 32)
        constant_revert = "no error"
    except Exception as e:  # what tronpy raises for a constant call that reverts
        constant_revert = f"{type(e).__name__}: {e}"
    return {
        "owner": owner,
        "address": address,
        "deploy_txid": deploy.txid,
        "deployed": deployed,
        "getcontract": tron.provider.make_request("wallet/getcontract", {"value": address, "visible": True}),
        "contract_account": tron.get_account(address),
        "functions": sorted(f for f in dir(token.functions) if not f.startswith("_")),
        "balance_before": before,
        "sent_txid": sent.txid,
        "sent_info": sent_info,
        "sent_tx": tron.get_transaction(sent.txid),
        "balance_owner": token.functions.balanceOf(owner),
        "balance_to": token.functions.balanceOf(to),
        "reverted_info": reverted_info,
        "constant_revert": constant_revert,
        "estimate": tron.get_estimated_energy(owner, address, "transfer(address,uint256)", "00" * 31 + "01" + "00" * 31 + "01"),
        "start_sun": start_sun,
        "account": tron.get_account(owner),
    }


def mintview(api: str, key_hex: str, to: str, view: str) -> dict[str, Any]:
    tron, key = client(api), PrivateKey(bytes.fromhex(key_hex))
    owner = key.public_key.to_base58check_address()
    token = tron.get_contract(view)
    before = {"owner": token.functions.balanceOf(owner), "to": token.functions.balanceOf(to)}
    sent = token.functions.transfer(to, 5_000_000).with_owner(owner).fee_limit(100 * 10**6).build().sign(key)
    info = sent.broadcast().wait(timeout=60, interval=0.5)
    return {
        "symbol": token.functions.symbol(),
        "decimals": token.functions.decimals(),
        "before": before,
        "info": info,
        "after": {"owner": token.functions.balanceOf(owner), "to": token.functions.balanceOf(to)},
        "to_account": tron.get_account_balance(to),
    }


COMMANDS = {
    "transfer": transfer,
    "read": read,
    "refused": refused,
    "rebroadcast": rebroadcast,
    "trc20": trc20,
    "mintview": mintview,
}

if __name__ == "__main__":
    print(json.dumps(COMMANDS[sys.argv[1]](*sys.argv[2:]), default=str))
