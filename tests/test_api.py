"""The native JSON API: status, blocks, transactions by id, submission, state proofs, schema, errors."""

import pytest

from chain.genesis import CHAIN_ID_KEY, parse
from chain.node import Chain
from chain.store import models as m
from chain.store.sql import SqlStore
from chain.tree import Proof, verify_proof
from rpc.native import views
from tests.conftest import GENESIS_CONFIG, kv_registry
from tests.support.kv_engine import FAIL, SET, envelope

pytestmark = pytest.mark.django_db(transaction=True)
KEY = b"\x42" * 32


@pytest.fixture
def chain(settings, tmp_path, validator):
    settings.NVM_HOME = tmp_path
    settings.NVM_ENGINES = ["tests.support.kv_engine"]
    views._registry.cache_clear()
    c = Chain(SqlStore(), kv_registry(), validator)
    gen = parse(GENESIS_CONFIG)
    c.create_genesis(gen.populate, gen.timestamp_ms)
    yield c
    views._registry.cache_clear()


def err(resp, status, code):
    assert resp.status_code == status, resp.content
    body = resp.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    return body


def test_status_reports_height_root_and_mempool(client, chain):
    chain.admit(envelope(SET, KEY, b"v"))
    s = client.get("/api/v1/status").json()
    assert s["height"] == 0 and s["mempool_size"] == 1 and s["chain_id"] == 7231053
    assert s["state_root"] == "0x" + chain.head.state_root.hex() and s["engines"] == ["kv"]
    chain.produce(10)
    s = client.get("/api/v1/status").json()
    assert s["height"] == 1 and s["mempool_size"] == 0 and s["hash"] == "0x" + chain.head.hash.hex()


def test_status_without_genesis_says_so(client, db):
    err(client.get("/api/v1/status"), 409, "no_genesis")


def test_blocks_page_newest_first(client, chain):
    for _ in range(5):
        chain.produce(10)
    page = client.get("/api/v1/blocks?limit=2").json()
    assert [b["height"] for b in page["blocks"]] == [5, 4] and page["next_before"] == 4
    page = client.get("/api/v1/blocks?limit=10&before=2").json()
    assert [b["height"] for b in page["blocks"]] == [1, 0] and page["next_before"] is None
    err(client.get("/api/v1/blocks?limit=0"), 400, "bad_parameter")
    err(client.get("/api/v1/blocks?limit=x"), 400, "bad_parameter")


def test_block_by_height_or_hash(client, chain):
    chain.admit(envelope(SET, KEY, b"v"))
    h = chain.produce(10).header
    by_height = client.get("/api/v1/blocks/1").json()
    by_hash = client.get(f"/api/v1/blocks/0x{h.hash.hex()}").json()
    assert by_height == by_hash
    assert by_height["hash"] == "0x" + h.hash.hex() and by_height["parent_hash"] == "0x" + h.parent_hash.hex()
    assert by_height["transactions"][0]["success"] is True and by_height["tx_count"] == 1
    assert client.get(f"/api/v1/blocks/{h.hash.hex().upper()}").status_code == 200
    err(client.get("/api/v1/blocks/99"), 404, "not_found")
    err(client.get("/api/v1/blocks/0xzz"), 400, "bad_hex")
    err(client.get("/api/v1/blocks/0x1234"), 400, "bad_length")


def test_submit_then_find_the_transaction_pending_and_committed(client, chain):
    env = envelope(FAIL, KEY, b"v")
    r = client.post("/api/v1/tx", {"envelope": "0x" + env.hex()}, content_type="application/json")
    assert r.status_code == 202
    tid = r.json()["id"]
    assert client.get(f"/api/v1/tx/{tid}").json()["status"] == "pending"
    chain.produce(10)
    t = client.get(f"/api/v1/tx/{tid}").json()
    assert t["status"] == "committed" and t["block"]["height"] == 1 and t["vm"] is None
    assert t["receipt"]["success"] is False and t["receipt"]["code"] == "kv_failed" and t["receipt"]["fee"] == "1"
    assert t["envelope"] == "0x" + env.hex()
    assert len(t["diff"]) == 1  # only the fee counter
    err(client.get("/api/v1/tx/0x" + "00" * 32), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"envelope": "0x10aa"}, "engine_not_installed"),
        ({"envelope": "0x60aa"}, "unassigned_opcode"),
        ({"envelope": "0x"}, "empty_envelope"),
        ({"envelope": "0xgg"}, "bad_hex"),
        ({"envelope": 5}, "bad_envelope"),
        ({}, "missing_envelope"),
        ({"envelope": "0x50" + "00" * 3}, "malformed"),
    ],
)
def test_bad_submissions_get_a_reason_and_write_nothing(client, chain, body, code):
    err(client.post("/api/v1/tx", body, content_type="application/json"), 400, code)
    assert m.MempoolEntry.objects.count() == 0


def test_non_json_and_wrong_methods(client, chain):
    err(client.post("/api/v1/tx", "not json", content_type="application/json"), 400, "bad_json")
    err(client.post("/api/v1/tx", "[" * 100_000, content_type="application/json"), 400, "bad_json")  # would overflow the C stack
    err(client.get("/api/v1/tx"), 405, "method_not_allowed")
    err(client.get("/api/v1/nothing/here"), 404, "not_found")


def test_duplicate_submission_is_refused(client, chain):
    body = {"envelope": envelope(SET, KEY, b"v").hex()}
    assert client.post("/api/v1/tx", body, content_type="application/json").status_code == 202
    err(client.post("/api/v1/tx", body, content_type="application/json"), 400, "already_known")


def test_state_proofs_verify_for_present_and_absent_keys(client, chain):
    chain.admit(envelope(SET, KEY, b"hello"))
    chain.produce(10)
    p = client.get(f"/api/v1/state/proof?key=0x{KEY.hex()}").json()
    assert p["included"] and p["value"] == "0x" + b"hello".hex() and p["verified"]
    root, proof = bytes.fromhex(p["root"][2:]), Proof.from_json(p["proof"])
    assert verify_proof(root, KEY, b"hello", proof)
    assert not verify_proof(root, KEY, b"other", proof)
    assert p["root"] == "0x" + chain.head.state_root.hex()

    absent = b"\x43" * 32
    q = client.get(f"/api/v1/state/proof?key={absent.hex()}").json()
    assert not q["included"] and q["value"] is None and q["verified"]
    assert verify_proof(root, absent, None, Proof.from_json(q["proof"]))
    c = client.get(f"/api/v1/state/proof?key={CHAIN_ID_KEY.hex()}").json()
    assert c["value"] == "0x" + (7231053).to_bytes(8, "big").hex() and c["verified"]

    err(client.get("/api/v1/state/proof"), 400, "missing_key")
    err(client.get("/api/v1/state/proof?key=0x12"), 400, "bad_length")


def test_openapi_schema_is_valid_and_lists_every_endpoint(client, chain):
    from openapi_spec_validator import validate

    s = client.get("/api/v1/schema").json()
    validate(s)
    assert s["openapi"].startswith("3.1")
    assert set(s["paths"]) == {
        "/api/v1/status",
        "/api/v1/blocks",
        "/api/v1/blocks/{ref}",
        "/api/v1/tx",
        "/api/v1/simulate",
        "/api/v1/tx/{id}",
        "/api/v1/state/proof",
        "/api/v1/identity/{ref}",
        "/api/v1/schema",
        "/api/v1/dev",
        "/api/v1/dev/mine",
        "/api/v1/dev/time",
        "/api/v1/dev/mining",
        "/api/v1/dev/snapshot",
        "/api/v1/dev/balance",
        "/api/v1/dev/impersonate",
        "/api/v1/dev/revert",
        "/api/v1/dev/reset",
        "/api/v1/dev/state",
    }


def test_responses_match_their_schemas(client, chain):
    from jsonschema import Draft202012Validator

    doc = client.get("/api/v1/schema").json()

    def check(name, body):
        Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": doc["components"]}).validate(body)

    chain.admit(envelope(SET, KEY, b"v"))
    tid = client.post("/api/v1/tx", {"envelope": envelope(FAIL, KEY, b"w").hex()}, content_type="application/json").json()
    check("Submitted", tid)
    check("Transaction", client.get(f"/api/v1/tx/{tid['id']}").json())
    chain.produce(10)
    check("Status", client.get("/api/v1/status").json())
    check("BlockPage", client.get("/api/v1/blocks").json())
    check("Block", client.get("/api/v1/blocks/1").json())
    check("Transaction", client.get(f"/api/v1/tx/{tid['id']}").json())
    check("StateProof", client.get(f"/api/v1/state/proof?key={KEY.hex()}").json())
    check("Error", client.get("/api/v1/blocks/77").json())
    check("Identity", client.get("/api/v1/identity/0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266").json())
