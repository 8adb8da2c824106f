"""One balance, every view: after transfers in every direction — native, EVM value, the ERC-20 view,
an ACE identity's 0x11 call — `eth_getBalance`, the native mint's ERC-20 `balanceOf`, and the native
API's identity page show the same amount, each in its own unit."""

import pytest
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from chain.auth import ed25519_credential
from chain.identity import erc20_address, vm_address
from chain.ledger import NATIVE_MINT
from engines.evm.engine import BASE_FEE_WEI, ace_digest, ace_unsigned
from engines.native import tx as t
from engines.native.client import AceSigner
from rpc.native import views
from tests.conftest import sql_node

pytestmark = pytest.mark.django_db(transaction=True)
CHAIN_ID = 7231053
ALICE = Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TOKEN = to_checksum_address(erc20_address(NATIVE_MINT))


@pytest.fixture
def node(settings, tmp_path):
    alloc = [
        {"legacy": "evm", "address": ALICE.address, "balance": "1000000000000000"},
        {"rev": "11" * 32, "balance": "1000000000000000"},
    ]
    chain = sql_node(settings, tmp_path, {"chain_id": CHAIN_ID, "alloc": alloc}, ("engines.native", "engines.evm"))
    yield chain
    views._registry.cache_clear()


def rpc(client, method, *params):
    body = client.post(
        "/rpc/eth", {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, content_type="application/json"
    ).json()
    assert "error" not in body, body
    return body["result"]


def balance_of(client, address: str) -> int:
    data = "0x" + (keccak(text="balanceOf(address)")[:4] + encode(["address"], [address])).hex()
    return decode(["uint256"], bytes.fromhex(rpc(client, "eth_call", {"to": TOKEN, "data": data}, "latest")[2:]))[0]


def views_agree(client, address: str) -> int:
    wei = int(rpc(client, "eth_getBalance", address, "latest"), 16)
    base = balance_of(client, address)
    native = client.get(f"/api/v1/identity/{address}").json()["balances"][0]
    assert native["base_units"] == str(base)
    assert native["views"]["evm"]["amount"] == str(wei)
    assert wei // 10**9 == base  # wei = base × 10^9 + dust
    return wei


def evm(nonce, to, value=0, data=b"", gas=100_000):
    tx = {
        "chainId": CHAIN_ID,
        "nonce": nonce,
        "to": to,
        "value": value,
        "data": data,
        "gas": gas,
        "maxFeePerGas": 2 * BASE_FEE_WEI,
        "maxPriorityFeePerGas": 0,
    }
    return b"\x10" + bytes(ALICE.sign_transaction(tx).raw_transaction)


def test_every_direction_keeps_every_view_equal(client, node):
    ace = AceSigner(b"\x11" * 32, CHAIN_ID)
    ace_evm = to_checksum_address(vm_address(ace.id_com, "evm"))
    node.admit(ace.create_account())
    node.produce(10)
    steps = [
        ace.envelope(
            t.TRANSFER, 1, mint=NATIVE_MINT, to=t.Ref(t.REF_EVM, bytes.fromhex(BOB[2:])), amount=3_000_000_000
        ),  # native → EVM
        evm(0, BOB, value=1_234_567_891),  # EVM value, not a whole number of base units
        evm(
            1, TOKEN, data=keccak(text="transfer(address,uint256)")[:4] + encode(["address", "uint256"], [BOB, 777])
        ),  # ERC-20 view
        evm(2, ace_evm, value=10**15),  # EVM → an ACE identity's EVM address
    ]
    for envelope in steps:
        node.admit(envelope)
        (e,) = node.produce(10).txs
        assert e.receipt.success, e.receipt.message
        for who in (ALICE.address, BOB, ace_evm):
            views_agree(client, who)
    # and back out of the ACE identity through the EVM, authorised by its native credential
    unsigned = ace_unsigned(CHAIN_ID, ace.id_com, 0, 50_000, 2 * BASE_FEE_WEI, 0, bytes.fromhex(BOB[2:]), 5 * 10**9, b"")
    node.admit(unsigned + ed25519_credential(ace_digest(unsigned), ace.keys.ed25519))
    assert node.produce(10).txs[0].receipt.success
    bob_wei = views_agree(client, BOB)
    assert bob_wei == 3_000_000_000 * 10**9 + 1_234_567_891 + 777 * 10**9 + 5 * 10**9
    views_agree(client, ace_evm)


@given(st.integers(-(10**40), 10**40), st.integers(0, 18))
def test_whole_units_are_exact_and_trimmed(amount, decimals):
    """One formatter for every view's whole units (chain.ledger.ui_amount): exact at any size (a wei balance has up
    to 39 digits: Decimal's default 28-digit context would round it), no float, no trailing zeros."""
    from chain.ledger import ui_amount

    text = ui_amount(amount, decimals)
    sign = -1 if text.startswith("-") else 1
    whole, _, fraction = text.lstrip("-").partition(".")
    assert len(fraction) <= decimals and not fraction.endswith("0") and text != "-0"
    assert sign * (int(whole) * 10**decimals + int(fraction.ljust(decimals, "0") or "0")) == amount


def test_an_amount_of_trx_reads_as_tron_writes_it():
    from chain.ledger import sun_text

    assert sun_text(1_000) == "1,000 sun (0.001 TRX)" and sun_text(2_500_000) == "2,500,000 sun (2.5 TRX)"
    assert sun_text(10**20 + 1) == "100,000,000,000,000,000,001 sun (100000000000000.000001 TRX)"  # no float rounding
