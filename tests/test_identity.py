"""Identities, Poseidon and address text: known answers loaded from shared vectors, properties, bad input."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import base58
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from chain.address import (
    AddressError,
    addresses_of,
    btc_script_text,
    btc_text,
    decode_segwit_address,
    evm_text,
    id_com_text,
    parse_address,
    segwit_address,
    svm_text,
    tron_text,
)
from chain.hashing import H
from chain.identity import (
    context_shard,
    derive_keys,
    domain_of,
    erc20_address,
    id_com,
    key_stream,
    legacy_id_com,
    multisig_id_com,
    vm_address,
)
from chain.poseidon import P, params, permute, poseidon, poseidon_ex

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
POSEIDON_MD = (VECTORS / "poseidon" / "VECTORS.md").read_text()
DERIVATIONS = json.loads((VECTORS / "nvm" / "derivations.json").read_text())
BIP341 = json.loads((VECTORS / "bitcoin" / "bip341_wallet_vectors.json").read_text())

bytes20 = st.binary(min_size=20, max_size=20)
bytes32 = st.binary(min_size=32, max_size=32)


# --- Poseidon: every answer in vectors/poseidon/VECTORS.md ---


@dataclass(frozen=True)
class PoseidonCase:
    call: str
    inputs: tuple[int, ...]
    init_state: int
    out_index: int
    permutation: bool
    expected: int


def _parse_elements(body: str) -> list[int]:
    """The notations VECTORS.md uses inside [...]: 1..N, p-1, 0x0101…01 (32 bytes of 0x01), decimals."""
    if m := re.fullmatch(r"(\d+)\.\.(\d+)", body):
        return list(range(int(m[1]), int(m[2]) + 1))
    out = []
    for item in (x.strip() for x in body.split(",")):
        if item == "p-1":
            out.append(P - 1)
        elif m := re.fullmatch(r"0x([0-9a-f]{2})\S*\s*\((\d+) bytes of 0x\1\)", item):
            out.append(int.from_bytes(bytes([int(m[1], 16)]) * int(m[2]), "big"))
        elif re.fullmatch(r"\d+", item):
            out.append(int(item))
        else:
            raise ValueError(f"unknown Poseidon vector notation {item!r}")
    return out


def _poseidon_case(call: str, decimal: int, hex_value: int) -> PoseidonCase:
    assert decimal == hex_value, f"VECTORS.md row {call!r}: decimal and hex columns disagree"
    m = re.search(r"\[([^\]]*)\](?:\*(\d+))?", call)
    assert m, f"no inputs in {call!r}"
    elements = _parse_elements(m[1])
    if m[2]:
        elements = elements * int(m[2])
    if n := re.search(r"\((\d+) inputs", call):
        assert len(elements) == int(n[1]), call
    if perm := re.search(r"permutation\(.*\)\s*state\[(\d+)\]", call):
        return PoseidonCase(call, tuple(elements), 0, int(perm[1]), True, decimal)
    init = re.search(r"initState=(\d+)", call)
    out = re.search(r"out\[(\d+)\]", call)
    return PoseidonCase(call, tuple(elements), int(init[1]) if init else 0, int(out[1]) if out else 0, False, decimal)


def _poseidon_cases() -> list[PoseidonCase]:
    cases = []
    for line in POSEIDON_MD.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        decimals = [int(c.strip("`")) for c in cells if re.fullmatch(r"`\d{40,}`", c)]
        hexes = [int(c.strip("`"), 16) for c in cells if re.fullmatch(r"`0x[0-9a-f]{64}`", c)]
        if not decimals:
            continue
        call = next(c for c in cells if "[" in c)
        cases.append(_poseidon_case(call.replace("`", ""), decimals[0], hexes[0]))
    return cases


POSEIDON_CASES = _poseidon_cases()


def test_every_poseidon_table_row_is_loaded():
    # Sections 2, 2a, 2b, 2c and the extra values; a parser that silently skipped rows would pass vacuously.
    rows_with_answers = sum(
        1 for line in POSEIDON_MD.splitlines() if line.startswith("|") and re.search(r"\| `\d{40,}` \|", line)
    )
    assert len(POSEIDON_CASES) == rows_with_answers >= 60


@pytest.mark.parametrize("case", POSEIDON_CASES, ids=lambda c: c.call[:60])
def test_poseidon_reproduces_circomlib_known_answers(case):
    if case.permutation:
        assert permute(case.inputs)[case.out_index] == case.expected
    else:
        outputs = poseidon_ex(case.inputs, init_state=case.init_state, n_out=case.out_index + 1)
        assert outputs[case.out_index] == case.expected
        if case.init_state == 0 and case.out_index == 0:
            assert poseidon(case.inputs) == case.expected


def test_poseidon_constants_match_the_values_quoted_from_circomlibjs():
    quoted = re.findall(r"t=(\d+) C\[0\] = `(0x[0-9a-f]{64})`", POSEIDON_MD)
    assert quoted
    for t, c0 in quoted:
        assert params(int(t)).round_constants[0][0] == int(c0, 16)
    # The MDS orientation pitfall: the reference M (row i belongs to x_i), not circomlib's transposed copy.
    row = re.search(r"`poseidon_constants.json` M\[0\] = \[([^\]]*)\]", POSEIDON_MD)
    assert row
    prefixes = [p.strip().rstrip("…") for p in row[1].split(",")]
    assert [f"0x{v:064x}".startswith(p) for v, p in zip(params(3).mds[0], prefixes, strict=True)] == [True] * 3


def test_poseidon_refuses_inputs_outside_the_field_and_bad_arity():
    for bad in ([P], [-1], [1, P + 5]):
        with pytest.raises(ValueError, match="not in the BN254 scalar field"):
            poseidon(bad)
    with pytest.raises(ValueError, match="1 … 16 inputs"):
        poseidon([])
    with pytest.raises(ValueError, match="1 … 16 inputs"):
        poseidon([1] * 17)
    with pytest.raises(ValueError, match="n_out"):
        poseidon_ex([1, 2], n_out=4)
    with pytest.raises(ValueError, match="width"):
        permute([1])


# --- SPEC §2–§4 derivations: every entry of vectors/nvm/derivations.json ---


@pytest.mark.parametrize("ident", DERIVATIONS["identities"], ids=lambda i: i["rev"][:8])
def test_identity_vectors(ident):
    rev = bytes.fromhex(ident["rev"])
    for i, stream in ident["streams"].items():
        assert key_stream(rev, int(i)).hex() == stream
    ic = id_com(rev, ident["salt"], DERIVATIONS["chain_id"])
    assert id_com_text(ic) == ident["id_com"]
    assert id_com(rev) == ic  # the devnet chain id is the default
    assert addresses_of(ic) == ident["addresses"]


@pytest.mark.parametrize("legacy", DERIVATIONS["legacy"], ids=lambda v: v["chain"])
def test_legacy_identity_vectors(legacy):
    ic = legacy_id_com(legacy["chain"], bytes.fromhex(legacy["native_bytes"]))
    assert id_com_text(ic) == legacy["id_com"]
    assert addresses_of(ic) == legacy["addresses"]


def test_ledger_vectors():
    from chain.ledger import NATIVE_MINT, balance_slot

    ledger = DERIVATIONS["ledger"]
    assert NATIVE_MINT.hex() == ledger["native_mint"]
    assert evm_text(erc20_address(NATIVE_MINT)) == ledger["native_erc20_address"]
    example = ledger["balance_slot_example"]
    slot = balance_slot(bytes.fromhex(example["mint"]), parse_address(example["id_com"]).raw)
    assert slot.hex() == example["slot"]


@pytest.mark.parametrize("vector", DERIVATIONS["shards"], ids=lambda v: v["prefix"])
def test_context_shard_vectors(vector):
    shard = context_shard(vector["prefix"].encode(), bytes.fromhex(vector["ctx"]), vector["shards"])
    assert shard == vector["shard"]


def test_context_shard_defaults_to_64_and_checks_its_inputs():
    assert context_shard(b"evm", bytes(16)) == context_shard(b"evm", bytes(16), 64)
    with pytest.raises(ValueError, match="16 bytes"):
        context_shard(b"evm", bytes(15))
    with pytest.raises(ValueError, match="positive"):
        context_shard(b"evm", bytes(16), 0)


def test_id_com_inputs_follow_spec_section_4():
    rev = bytes(range(32))
    domain = int.from_bytes(H(b"nvm/domain/7231053")[:16], "big")
    assert domain_of(7231053) == domain
    expected = poseidon([int.from_bytes(rev[:16], "big"), int.from_bytes(rev[16:], "big"), 5, domain])
    assert id_com(rev, salt=5) == expected.to_bytes(32, "big")
    assert id_com(rev, chain_id=1) != id_com(rev)
    with pytest.raises(ValueError, match="16-byte"):
        id_com(rev, salt=1 << 128)
    with pytest.raises(ValueError, match="REV is 32 bytes"):
        id_com(rev[:31])


def test_derived_keys_come_from_their_streams():
    rev = bytes.fromhex(DERIVATIONS["identities"][1]["rev"])
    keys = derive_keys(rev)
    assert bytes(keys.ed25519) == key_stream(rev, 1)
    assert keys.ed25519_public == bytes(SigningKey(key_stream(rev, 1)).verify_key)
    assert (keys.evm.secret, keys.bitcoin.secret, keys.tron.secret) == tuple(key_stream(rev, i) for i in (3, 4, 5))
    assert keys.attestation_key == key_stream(rev, 8)
    assert (len(keys.evm_public), len(keys.bitcoin_public), len(keys.tron_public)) == (65, 33, 65)
    assert keys.evm_public == keys.evm.public_key.format(compressed=False)
    assert key_stream(rev, 8).hex() not in repr(keys) and key_stream(rev, 3).hex() not in repr(keys)


def test_legacy_native_bytes_are_validated_per_chain():
    assert legacy_id_com("btc", bytes.fromhex("0014" + "11" * 20))
    for chain, native, message in [
        ("evm", bytes(21), "EVM address is 20 bytes"),
        ("svm", bytes(31), "Solana public key is 32 bytes"),
        ("tron", bytes(20), "Tron address is 21 bytes"),
        ("tron", b"\x42" + bytes(20), "starts with 0x41"),
        ("btc", bytes(10_001), "at most 10000 bytes"),
        ("eth", bytes(20), "unknown legacy chain"),
    ]:
        with pytest.raises(ValueError, match=message):
            legacy_id_com(chain, native)


def test_multisig_id_com_sorts_members_and_validates():
    a, b, c = (bytes([i]) * 32 for i in (3, 1, 2))
    ms = multisig_id_com(2, [a, b, c])
    assert ms == H(b"nvm/multisig" + b"\x02" + b + c + a)
    assert multisig_id_com(2, [c, a, b]) == ms
    assert multisig_id_com(3, [a, b, c]) != ms
    for threshold, members, message in [
        (0, [a, b], "threshold"),
        (3, [a, b], "threshold"),
        (1, [], "1 … 255 members"),
        (1, [bytes([i % 256, i // 256]) * 16 for i in range(256)], "1 … 255 members"),
        (1, [a, a], "distinct"),
        (1, [a, b"short"], "32 bytes"),
    ]:
        with pytest.raises(ValueError, match=message):
            multisig_id_com(threshold, members)


def test_vm_address_lengths_and_unknown_tag():
    ic = bytes(32)
    assert [len(vm_address(ic, tag)) for tag in ("evm", "svm", "btc", "tron")] == [20, 32, 32, 20]
    assert vm_address(ic, "evm") == H(b"nvm/addr/evm" + ic)[-20:]
    with pytest.raises(ValueError, match="unknown VM tag"):
        vm_address(ic, "native")


@given(bytes32)
def test_the_four_derived_addresses_of_an_identity_are_distinct(ic):
    addrs = [vm_address(ic, tag) for tag in ("evm", "svm", "btc", "tron")]
    assert len(set(addrs)) == 4
    assert vm_address(ic, "evm") != vm_address(ic, "tron")
    assert vm_address(ic, "svm") != vm_address(ic, "btc")


@given(bytes20, bytes32)
def test_legacy_ids_of_the_same_bytes_differ_between_chains(b20, b32):
    assert legacy_id_com("evm", b20) != legacy_id_com("btc", b20)
    assert legacy_id_com("svm", b32) != legacy_id_com("btc", b32)
    tron = b"\x41" + b20
    assert legacy_id_com("tron", tron) != legacy_id_com("btc", tron)


# --- bech32m: BIP341 bip350Address vectors, both HRPs ---


@pytest.mark.parametrize("vector", BIP341["scriptPubKey"], ids=lambda v: v["expected"]["bip350Address"][-8:])
def test_bip341_bip350_addresses(vector):
    script = bytes.fromhex(vector["expected"]["scriptPubKey"])
    address = vector["expected"]["bip350Address"]
    assert segwit_address("bc", 1, script[2:]) == address
    assert decode_segwit_address("bc", address) == (1, script[2:])
    regtest = segwit_address("bcrt", 1, script[2:])
    assert regtest.startswith("bcrt1p") and regtest[-6:] != address[-6:]  # the HRP is under the checksum
    assert parse_address(regtest) == parse_address(regtest.upper())
    assert parse_address(regtest).raw == script and parse_address(regtest).kind == "p2tr"
    with pytest.raises(AddressError, match="regtest"):
        parse_address(address)


# --- text formats: round trips ---


@given(bytes32)
def test_identity_addresses_round_trip_through_text(ic):
    assert parse_address(id_com_text(ic)) == parse_address(id_com_text(ic)[2:]) == parse_address(id_com_text(ic).upper())
    assert parse_address(id_com_text(ic)).raw == ic and parse_address(id_com_text(ic)).vm == "native"
    texts = addresses_of(ic)
    evm, svm, btc, tron = (vm_address(ic, tag) for tag in ("evm", "svm", "btc", "tron"))
    assert (parse_address(texts["evm"]).vm, parse_address(texts["evm"]).raw) == ("evm", evm)
    assert (parse_address(texts["svm"]).vm, parse_address(texts["svm"]).raw) == ("svm", svm)
    assert (parse_address(texts["btc"]).vm, parse_address(texts["btc"]).raw) == ("btc", bytes.fromhex("5120") + btc)
    assert (parse_address(texts["tron"]).vm, parse_address(texts["tron"]).raw) == ("tron", b"\x41" + tron)
    for text in texts.values():
        assert parse_address(f"  {text}\n").text == text


@given(bytes20)
def test_evm_text_accepts_checksummed_lower_upper_and_bare_hex(raw):
    checksummed = evm_text(raw)
    for text in (checksummed, checksummed.lower(), "0x" + raw.hex().upper(), "0X" + raw.hex(), raw.hex()):
        assert parse_address(text) == parse_address(checksummed)
        assert parse_address(text).raw == raw and parse_address(text).kind == "evm"


@given(bytes20)
def test_tron_text_from_20_or_21_bytes(raw):
    assert tron_text(raw) == tron_text(b"\x41" + raw)
    assert tron_text(raw).startswith("T")
    assert parse_address(tron_text(raw)).raw == b"\x41" + raw
    assert parse_address("41" + raw.hex()) == parse_address(tron_text(raw))  # java-tron's hex form, unless visible
    assert parse_address("41" + raw.hex().upper()) == parse_address(tron_text(raw))


@given(bytes32)
def test_svm_text_round_trips(raw):
    assert parse_address(svm_text(raw)).raw == raw
    assert parse_address(svm_text(raw)).kind == "svm"


def test_base58_addresses_that_begin_like_bech32_are_read_as_base58():
    tron = tron_text(b"\x0b\x4f" + bytes(18))  # "TB1…": Tron, not a testnet tb1… address
    assert tron.upper().startswith("TB1")
    assert parse_address(tron).raw == b"\x41\x0b\x4f" + bytes(18)
    for text in ("bc1" + "Z" * 40, "bcrt1" + "Zz" * 19):  # mixed case, so never bech32
        assert parse_address(text) == parse_address(svm_text(base58.b58decode(text)))
        assert parse_address(text).vm == "svm"


def _legacy_script(kind, h):
    return bytes.fromhex(
        {
            "p2pkh": "76a914{}88ac",
            "p2sh": "a914{}87",
            "p2wpkh": "0014{}",
            "p2wsh": "0020{}",
            "p2tr": "5120{}",
        }[kind].format(h.hex())
    )


LEGACY_SCRIPT_KINDS = [
    ("p2pkh", 20, "m"),
    ("p2sh", 20, "2"),
    ("p2wpkh", 20, "bcrt1q"),
    ("p2wsh", 32, "bcrt1q"),
    ("p2tr", 32, "bcrt1p"),
]


@pytest.mark.parametrize(("kind", "size", "lead"), LEGACY_SCRIPT_KINDS)
@given(data=st.data())
def test_legacy_bitcoin_addresses_round_trip_to_their_script(kind, size, lead, data):
    script = _legacy_script(kind, data.draw(st.binary(min_size=size, max_size=size)))
    text = btc_script_text(script)
    assert text is not None
    assert text.startswith(lead) or (kind == "p2pkh" and text[0] == "n")
    parsed = parse_address(text)
    assert (parsed.vm, parsed.raw, parsed.kind) == ("btc", script, kind)
    assert parsed.text == text


def test_scripts_without_an_address_have_no_text():
    for script in (b"", b"\x6a\x04abcd", bytes.fromhex("0015") + bytes(21), bytes.fromhex("76a91400")):
        assert btc_script_text(script) is None
    assert btc_text(bytes(32)) == btc_script_text(bytes.fromhex("5120") + bytes(32))


# --- bad input: each refused with its own message ---


def _flip_case_of_one_letter(text):
    i = next(i for i, c in enumerate(text) if i > 1 and c.isalpha())
    return text[:i] + text[i].swapcase() + text[i + 1 :]


def _change_last_char(text):
    return text[:-1] + ("2" if text[-1] != "2" else "3")


GOOD = DERIVATIONS["identities"][0]["addresses"]
CHECKSUMMED = DERIVATIONS["identities"][0]["addresses"]["evm"]
P2PKH_TEXT = base58.b58encode_check(b"\x6f" + bytes(range(20))).decode()

BAD_INPUTS = [
    ("", "empty address"),
    ("1" * 101, "too long"),
    ("0x12 34", "whitespace"),
    (_flip_case_of_one_letter(CHECKSUMMED), f"EIP-55 checksum mismatch: did you mean {CHECKSUMMED}"),
    ("0x" + "a" * 39, "39 digits: an EVM address has 40, an id_com 64"),
    ("abcdef", "6 digits: an EVM address has 40"),
    ("0x", "nothing after 0x"),
    ("0x" + "g" * 40, "not hexadecimal: 'g'"),
    ("hello", "not an address: 'l'"),
    (base58.b58encode(b"\x01" * 31).decode(), "decodes to 31 bytes"),
    (base58.b58encode(b"\x01" * 33).decode(), "decodes to 33 bytes"),
    (_change_last_char(GOOD["tron"]), "Tron address checksum mismatch"),
    (_change_last_char(P2PKH_TEXT), "Bitcoin base58 address checksum mismatch"),
    (base58.b58encode_check(b"\x00" + bytes(range(20))).decode(), "1… is a Bitcoin mainnet address; this devnet is regtest"),
    (base58.b58encode_check(b"\x05" + bytes(range(20))).decode(), "3… is a Bitcoin mainnet address; this devnet is regtest"),
    (base58.b58encode_check(b"\x42" + bytes(range(20))).decode(), "version byte 0x42"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "bc1… is a Bitcoin mainnet address"),
    ("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "tb1… is a Bitcoin testnet/signet address"),
    (GOOD["btc"][:10] + GOOD["btc"][10:].upper(), "mixes upper and lower case"),
    (_change_last_char(GOOD["btc"]), "bech32 checksum mismatch"),
    ("bcrt1qbbbbbb", "'b' is not a bech32 character"),
    ("bcrt1qqqq", "too short to hold a checksum"),
]


@pytest.mark.parametrize(("text", "message"), BAD_INPUTS, ids=[m[:40] for _, m in BAD_INPUTS])
def test_bad_input_is_refused_with_a_clear_message(text, message):
    with pytest.raises(AddressError, match=re.escape(message)):
        parse_address(text)


def test_bad_input_messages_are_distinct():
    messages = []
    for text, _ in BAD_INPUTS:
        with pytest.raises(AddressError) as err:
            parse_address(text)
        messages.append(str(err.value))
    assert len(set(messages)) == len(messages)


def _malformed_bech32(version, program, spec_name):
    bech32 = pytest.importorskip("bitcoinutils.bech32")  # sipa's reference code, to build what ours refuses
    data = [version, *bech32.convertbits(program, 8, 5)]
    return bech32.bech32_encode("bcrt", data, getattr(bech32.Encoding, spec_name))


@pytest.mark.parametrize(
    ("version", "program", "spec_name", "message"),
    [
        (1, bytes(32), "BECH32", "witness v1 address must use bech32m (BIP350), not bech32"),
        (0, bytes(20), "BECH32M", "witness v0 address must use bech32 (BIP173), not bech32m"),
        (0, bytes(25), "BECH32", "witness v0 program is 25 bytes, must be 20 (P2WPKH) or 32 (P2WSH)"),
        (17, bytes(32), "BECH32M", "witness version 17 does not exist"),
        (2, bytes(41), "BECH32M", "witness program is 41 bytes, must be 2 … 40"),
    ],
)
def test_malformed_segwit_addresses_are_refused(version, program, spec_name, message):
    with pytest.raises(AddressError, match=re.escape(message)):
        parse_address(_malformed_bech32(version, program, spec_name))


def test_future_witness_versions_parse_as_witness_unknown():
    text = segwit_address("bcrt", 2, bytes(range(16)))
    parsed = parse_address(text)
    assert (parsed.kind, parsed.raw) == ("witness_unknown", bytes([0x52, 16, *range(16)]))
    assert btc_script_text(parsed.raw) == text


# --- cross-checks against other libraries (test-only dependencies) ---


@pytest.fixture(scope="module")
def eth_utils():
    return pytest.importorskip("eth_utils")


@pytest.fixture(scope="module")
def btc_keys():
    keys = pytest.importorskip("bitcoinutils.keys")
    from bitcoinutils.setup import setup

    setup("regtest")
    return keys


@given(raw=bytes20)
def test_evm_text_matches_eth_utils(eth_utils, raw):
    assert evm_text(raw) == eth_utils.to_checksum_address(raw)


@pytest.mark.parametrize(("kind", "size", "lead"), LEGACY_SCRIPT_KINDS)
@given(data=st.data())
def test_regtest_addresses_match_bitcoin_utils(btc_keys, kind, size, lead, data):
    h = data.draw(st.binary(min_size=size, max_size=size)).hex()
    theirs = {
        "p2pkh": lambda: btc_keys.P2pkhAddress(hash160=h),
        "p2sh": lambda: btc_keys.P2shAddress(hash160=h),
        "p2wpkh": lambda: btc_keys.P2wpkhAddress(witness_program=h),
        # P2wshAddress drops a witness_program argument (bitcoin-utils 0.8.8), so go through its base class.
        "p2wsh": lambda: btc_keys.P2wpkhAddress(witness_program=h, version=btc_keys.P2WSH_ADDRESS_V0),
        "p2tr": lambda: btc_keys.P2trAddress(witness_program=h),
    }[kind]()
    assert btc_script_text(_legacy_script(kind, bytes.fromhex(h))) == theirs.to_string()
    assert parse_address(theirs.to_string()).raw.hex() == theirs.to_script_pub_key().to_hex()
