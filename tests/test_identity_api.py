"""GET /api/v1/identity/<any address>, the CLI's wallet commands, and the sealed attestation key on the real database."""

import json

import pytest
from django.core.management import call_command

from chain.address import addresses_of
from chain.identity import id_com
from chain.ledger import NATIVE_MINT
from chain.store import models as m
from engines.native import tx as t
from engines.native.client import AceSigner
from rpc.native import views
from tests.conftest import sql_node

pytestmark = pytest.mark.django_db(transaction=True)
REV = b"\x11" * 32
WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.fixture
def node(settings, tmp_path):
    alloc = [
        {"id_com": "0x" + id_com(REV).hex(), "balance": "5000000000"},
        {"legacy": "evm", "address": WALLET, "balance": "1234567891"},
    ]
    chain = sql_node(settings, tmp_path, {"alloc": alloc})
    yield chain
    views._registry.cache_clear()


def test_any_address_of_an_identity_finds_it(client, node):
    ic = id_com(REV)
    addrs = addresses_of(ic)
    for text in ["0x" + ic.hex(), *addrs.values(), addrs["evm"].lower(), addrs["btc"].upper()]:
        r = client.get(f"/api/v1/identity/{text}")
        assert r.status_code == 200, (text, r.content)
        body = r.json()
        assert body["id_com"] == "0x" + ic.hex() and body["addresses"] == addrs and body["bound"]


def test_balances_in_every_unit(client, node):
    body = client.get(f"/api/v1/identity/{WALLET}").json()
    assert body["legacy"] == {"chain": "evm", "address": WALLET} and body["addresses"]["evm"] == WALLET
    (nvm,) = body["balances"]
    assert nvm["symbol"] == "NVM" and nvm["amount"] == "1.234567891" and nvm["base_units"] == "1234567891"
    views_ = {k: v["amount"] for k, v in nvm["views"].items()}
    assert views_ == {
        "native": "1234567891",
        "evm": "1234567891000000000",
        "svm": "1234567891",
        "btc": "123456789",
        "tron": "1234567",
    }


def test_an_address_never_seen_shows_the_identity_it_will_get(client, node):
    body = client.get("/api/v1/identity/0x000000000000000000000000000000000000dEaD").json()
    assert body["bound"] is False and body["balances"][0]["base_units"] == "0"
    assert body["addresses"]["evm"] == "0x000000000000000000000000000000000000dEaD"


def test_an_id_com_never_seen_is_not_called_bound(client, node):
    """An id_com names an identity whether or not the chain has seen it; only a seen one is bound."""
    unseen = "0x" + "5a" * 32
    assert client.get(f"/api/v1/identity/{unseen}").json()["bound"] is False
    page = client.get(f"/identity/{unseen}").content.decode()
    assert "not seen on chain yet: nothing has been sent to this identity" in page and "bound, no native" not in page


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92267", "EIP-55"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "regtest"),
        ("hello", ""),
    ],
)
def test_bad_addresses_are_a_400_with_a_reason(client, node, text, fragment):
    r = client.get(f"/api/v1/identity/{text}")
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_address"
    assert fragment in r.json()["error"]["message"]


def cli(*args) -> dict:
    import io

    out = io.StringIO()
    call_command("nvm", *args, stdout=out)
    return json.loads(out.getvalue())


def test_cli_identity_new_is_deterministic_with_a_rev(node):
    a = cli("identity", "new", "--rev", REV.hex())
    assert a == cli("identity", "new", "--rev", REV.hex())
    assert a["id_com"] == "0x" + id_com(REV).hex() and a["addresses"] == addresses_of(id_com(REV))
    assert cli("identity", "new")["rev"] != cli("identity", "new")["rev"]
    assert cli("identity", "show", WALLET)["legacy"]["chain"] == "evm"


def test_cli_multisig_identity_from_members_named_any_way(node):
    from chain.identity import multisig_id_com

    a, b = id_com(REV), id_com(b"\x22" * 32)
    out = cli("identity", "multisig", "--threshold", "2", "--member", addresses_of(a)["svm"], "--member", "0x" + b.hex())
    assert out["id_com"] == "0x" + multisig_id_com(2, [a, b]).hex() and out["addresses"] == addresses_of(
        bytes.fromhex(out["id_com"][2:])
    )
    with pytest.raises(Exception, match="threshold"):
        cli("identity", "multisig", "--threshold", "3", "--member", "0x" + a.hex(), "--member", "0x" + b.hex())


def test_cli_transfer_submits_a_signed_transaction(node):
    # no producer runs here: the command admits and reports pending; the node then makes the block
    signer = AceSigner(REV, 7231053)
    node.admit(signer.create_account())
    node.produce(10)
    out = cli("transfer", "--rev", REV.hex(), "--to", WALLET, "--amount", "0.5", "--wait", "0")
    assert out["status"] == "pending" and out["signer"] == "0x" + signer.id_com.hex()
    block = node.produce(10)
    assert [e.receipt.success for e in block.txs] == [True]
    assert cli("identity", "show", WALLET)["balances"][0]["amount"] == "1.734567891"


def test_cli_signs_for_a_multisig_with_its_members_revs(node):
    from chain.identity import multisig_id_com

    members = [AceSigner(REV, 7231053), AceSigner(b"\x22" * 32, 7231053)]
    for s in members:
        node.admit(s.create_account())
    node.produce(10)
    ms = multisig_id_com(2, [s.id_com for s in members])
    node.admit(members[0].envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=t.Ref(t.REF_ID_COM, ms), amount=10**6))
    node.admit(
        AceSigner(REV, 7231053).envelope(t.TRANSFER, 2, mint=NATIVE_MINT, to=t.Ref(t.REF_ID_COM, members[1].id_com), amount=10**6)
    )
    node.produce(10)
    create = cli_wallet([REV, b"\x22" * 32], members, ms)
    node.admit(create)
    node.produce(10)
    args = ["transfer", "--rev", REV.hex(), "--rev", (b"\x22" * 32).hex(), "--threshold", "2", "--wait", "0"]
    args += ["--member", "0x" + members[0].id_com.hex(), "--member", addresses_of(members[1].id_com)["tron"]]
    out = cli(*args, "--to", WALLET, "--base-units", "1000")
    assert out["signer"] == "0x" + ms.hex() and out["status"] == "pending"
    assert node.produce(10).txs[0].receipt.success
    with pytest.raises(Exception, match="not a member"):
        cli(
            "transfer",
            "--rev",
            (b"\x99" * 32).hex(),
            "--threshold",
            "1",
            "--member",
            "0x" + members[0].id_com.hex(),
            "--to",
            WALLET,
            "--amount",
            "1",
            "--wait",
            "0",
        )


def cli_wallet(revs, members, ms):
    from engines.native.client import multisig_envelope

    ids = [m.id_com for m in members]
    return multisig_envelope(
        7231053, 2, ids, [AceSigner(r, 7231053) for r in revs], t.CREATE_ACCOUNT, 0, factor=t.multisig_factor(2, ids)
    )


def test_the_attestation_key_is_never_stored_in_clear(node, tmp_path):
    signer = AceSigner(REV, 7231053)
    node.admit(signer.create_account())
    node.produce(10)
    node.admit(signer.add_attestation_factor(1, node.validator.verify_key))
    node.produce(10)
    env = signer.envelope(t.TRANSFER, 2, scheme=t.ATTESTATION, mint=NATIVE_MINT, to=t.Ref(t.REF_ID_COM, signer.id_com), amount=1)
    node.admit(env)
    assert node.produce(10).txs[0].receipt.success
    key = signer.keys.attestation_key
    stored = [
        bytes(v)
        for model, fields in [
            (m.Block, ["header"]),
            (m.Transaction, ["envelope", "receipt", "diff"]),
            (m.StateEntry, ["key", "value"]),
            (m.TreeNode, ["blob"]),
            (m.MempoolEntry, ["envelope"]),
        ]
        for row in model.objects.values_list(*fields)
        for v in row
    ]
    assert stored and not any(key in v for v in stored)
    assert all(key not in f.read_bytes() for f in tmp_path.rglob("*") if f.is_file())
    assert m.Transaction.objects.filter(envelope=env).exists()
