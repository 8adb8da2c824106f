"""Genesis from a config file (docs/PROTOCOL.md, "Genesis"): the same file always gives the same root.

    {"chain_id": 7231053, "timestamp_ms": 1767225600000,
     "native_mint": {"symbol": "NVM", "name": "n-VM", "authority": "0x<id_com>"},
     "alloc": [{"label": "...", "id_com": "0x<32 bytes>", "balance": "<base units>"},
               {"label": "...", "legacy": "evm", "address": "0x<20 bytes>", "balance": "..."},
               {"label": "...", "legacy": "svm", "address": "<base58 or 0x hex pubkey>", "balance": "..."}]}

A `legacy` entry funds the legacy identity of a raw-chain wallet (SPEC §2) and binds its
address in the reverse index, so the wallet finds its balance from block 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .accounts import bind_identity, resolve
from .hashing import U64_MAX, ZERO32, H
from .identity import DEVNET_CHAIN_ID, id_com, legacy_id_com
from .ledger import NATIVE_DECIMALS, NATIVE_MINT, MintRecord, credit, put_mint
from .state import State

CHAIN_ID_KEY = H(b"nvm/chain_id")  # u64: the chain id lives in the state, so the root covers it
LEGACY_ADDRESS_LEN = {"evm": 20, "svm": 32, "btc": 0, "tron": 21}  # raw-chain wallets genesis can fund


class GenesisError(ValueError):
    pass


@dataclass(frozen=True)
class Account:
    label: str
    id_com: bytes
    balance: int
    legacy: str | None = None
    address: bytes | None = None
    rev: bytes | None = None  # a dev ACE identity's REV: public on a devnet, printed by `make devnet`
    private_key: bytes | None = None  # a dev wallet's well-known key (anvil's test mnemonic)


@dataclass(frozen=True)
class Genesis:
    chain_id: int
    timestamp_ms: int
    symbol: str
    name: str
    authority: bytes
    accounts: tuple[Account, ...]

    def populate(self, state: State) -> None:
        state.set(CHAIN_ID_KEY, self.chain_id.to_bytes(8, "big"))
        put_mint(state, NATIVE_MINT, MintRecord(0, NATIVE_DECIMALS, self.authority, self.symbol, self.name))
        supply = 0
        for acct in self.accounts:
            credit(state, NATIVE_MINT, acct.id_com, acct.balance)
            supply += acct.balance
            if acct.legacy is not None and acct.address is not None:
                resolve(state, acct.legacy, acct.address)
            else:
                bind_identity(state, acct.id_com)
        if supply > U64_MAX:
            raise GenesisError("the alloc's total exceeds the u64 supply limit")
        put_mint(state, NATIVE_MINT, MintRecord(supply, NATIVE_DECIMALS, self.authority, self.symbol, self.name))


def address_of_key(chain: str, private_key: bytes) -> bytes:
    """A legacy wallet's address from its key: EVM secp256k1, SVM an Ed25519 seed (the pubkey)."""
    if chain == "svm":
        from nacl.signing import SigningKey

        return bytes(SigningKey(private_key).verify_key)
    if chain == "tron":  # 0x41 and the same 20 bytes an EVM address would be
        return b"\x41" + evm_address_of_key(private_key)
    return evm_address_of_key(private_key)


def _legacy_address(chain: str, value: object, what: str) -> bytes:
    if chain in ("btc", "tron"):  # a regtest address (its scriptPubKey is what the index binds) or a T… address
        from .address import AddressError, parse_address

        try:
            parsed = parse_address(str(value))
        except AddressError as e:
            raise GenesisError(f"{what}: {e}") from None
        if parsed.vm != chain:
            raise GenesisError(f"{what}: not a {'Bitcoin' if chain == 'btc' else 'Tron'} address")
        return parsed.raw
    if chain == "svm" and isinstance(value, str) and not value.lower().startswith("0x"):
        import base58

        try:
            raw = base58.b58decode(value)
        except ValueError:
            raise GenesisError(f"{what}: not base58") from None
        if len(raw) != 32:
            raise GenesisError(f"{what}: expected a 32-byte Solana pubkey")
        return raw
    return _hex(value, LEGACY_ADDRESS_LEN[chain], what)


def evm_address_of_key(private_key: bytes) -> bytes:
    """The EVM address of a secp256k1 key: last 20 bytes of keccak256(uncompressed public key)."""
    import coincurve
    from Crypto.Hash import keccak

    public = coincurve.PrivateKey(private_key).public_key.format(compressed=False)[1:]
    return keccak.new(digest_bits=256, data=public).digest()[-20:]


def _hex(value: object, n: int, what: str) -> bytes:
    if not isinstance(value, str):
        raise GenesisError(f"{what}: expected a hex string")
    s = value[2:] if value[:2].lower() == "0x" else value
    try:
        raw = bytes.fromhex(s)
    except ValueError:
        raise GenesisError(f"{what}: not hex") from None
    if len(raw) != n:
        raise GenesisError(f"{what}: expected {n} bytes, got {len(raw)}")
    return raw


def _amount(value: object, what: str) -> int:
    try:
        n = int(str(value), 10)
    except ValueError:
        raise GenesisError(f"{what}: not a whole number of base units") from None
    if not 0 <= n <= U64_MAX:
        raise GenesisError(f"{what}: out of the u64 range")
    return n


def parse(config: dict[str, object]) -> Genesis:
    if not isinstance(config, dict):
        raise GenesisError("genesis config must be a JSON object")
    mint = config.get("native_mint", {})
    if not isinstance(mint, dict):
        raise GenesisError("native_mint must be an object")
    accounts = []
    alloc = config.get("alloc", [])
    if not isinstance(alloc, list):
        raise GenesisError("alloc must be a list")
    for i, entry in enumerate(alloc):
        if not isinstance(entry, dict):
            raise GenesisError(f"alloc[{i}] must be an object")
        label = str(entry.get("label", f"account {i}"))
        balance = _amount(entry.get("balance", 0), f"alloc[{i}].balance")
        if "legacy" in entry:
            chain = entry["legacy"]
            if chain not in LEGACY_ADDRESS_LEN:
                raise GenesisError(f"alloc[{i}].legacy: genesis can fund legacy {sorted(LEGACY_ADDRESS_LEN)} wallets")
            address = _legacy_address(chain, entry.get("address"), f"alloc[{i}].address")
            key = None
            if "private_key" in entry and chain != "btc":
                key = _hex(entry["private_key"], 32, f"alloc[{i}].private_key")
                if address_of_key(chain, key) != address:
                    raise GenesisError(f"alloc[{i}].private_key is not the key of {entry['address']}")
            accounts.append(Account(label, legacy_id_com(chain, address), balance, chain, address, private_key=key))
        elif "rev" in entry:
            rev = _hex(entry["rev"], 32, f"alloc[{i}].rev")
            chain_id = config.get("chain_id", DEVNET_CHAIN_ID)
            accounts.append(Account(label, id_com(rev, chain_id=chain_id if isinstance(chain_id, int) else 0), balance, rev=rev))
        else:
            accounts.append(Account(label, _hex(entry.get("id_com"), 32, f"alloc[{i}].id_com"), balance))
    chain_id = config.get("chain_id", 7231053)
    timestamp = config.get("timestamp_ms", 0)
    if not isinstance(chain_id, int) or not 0 < chain_id <= U64_MAX:
        raise GenesisError("chain_id must be a positive integer")
    if not isinstance(timestamp, int) or timestamp < 0:
        raise GenesisError("timestamp_ms must be a non-negative integer")
    authority = _hex(mint.get("authority", "0x" + ZERO32.hex()), 32, "native_mint.authority")
    return Genesis(chain_id, timestamp, str(mint.get("symbol", "NVM")), str(mint.get("name", "n-VM")), authority, tuple(accounts))


def load(path: Path) -> Genesis:
    try:
        return parse(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError) as e:
        raise GenesisError(f"cannot read genesis config {path}: {e}") from None
