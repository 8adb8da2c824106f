"""java-tron's HTTP API at `/api/tron/` (`wallet/…`, `walletsolidity/…`: the paths and JSON shapes tronpy and
TronWeb speak), over this chain's TVM (SPEC §1, §3; docs/PROTOCOL.md §15). Amounts are sun (1 sun = 1,000
base units, floored). Clients take the base URL with its trailing slash: `HTTPProvider(".../api/tron/")`.

How this chain answers in Tron's terms — the decisions:

**Blocks.** `blockID` is the Tron block id, height u64 ‖ block hash[8:32] (engines/tvm `tron_block_id`), so a
wallet's TaPoS fields come out right from it; `parentHash` is the parent's Tron id, `txTrieRoot` the header's
transactions root (SHA-256 over envelopes, not Tron's tree), `version` the header encoding's version (1),
`witness_address` 0x41 ‖ the last 20 bytes of the validator's Ed25519 key and `witness_signature` its
Ed25519 signature of the header. `transactions` lists the block's Tron transactions (0x40) that ran; other
VMs' transactions have no Tron form and are left out. Blocks are final once made: `walletsolidity/…` answers
as `wallet/…`, and `getnodeinfo`'s `block` and `solidityBlock` are both the head.

**Transactions.** One a block executed is found by its txid with `ret: [{"contractRet": …}]` — "SUCCESS", or why
its contract failed (REVERT, OUT_OF_ENERGY, …: it is in the block and paid its energy); one the block refused
(it expired while waiting, or the balance moved) never happened in Tron's terms and is `{}` (`/api/v1/tx/<txid>`
shows its receipt); a pending one is `{}` too, as java-tron answers until a block has it.
`gettransactioninfobyid` gives `fee` (the energy fee in sun; bandwidth is free), `contractResult` (the return
data; a creation's deployed code), `contract_address`, `log` (20-byte addresses, as Tron shows them),
`receipt.energy_usage_total`, `receipt.energy_fee`, `receipt.net_usage` (the bytes a Tron node would count) and
`receipt.result`; a failed one has `result: "FAILED"` and `resMessage`.

**Building and broadcasting.** `createtransaction` (TransferContract), `triggersmartcontract`
(TriggerSmartContract from `function_selector` + `parameter`, or `data`) and `deploycontract` (CreateSmartContract
from `abi`, `bytecode` + `parameter`, with the future `contract_address`) build with TaPoS from the head and
expire a minute after the later of the head's time and the node's clock (blocks can be made on demand, so the
head can be old); each validates like a node (engines/tvm `validate`): `{"Error": "Contract validate error : …"}`
for createtransaction and deploycontract, `{"result": {"code": "CONTRACT_VALIDATE_ERROR", "message": hex}}` for
the trigger. `getsignweight` gives
the txid of a transaction posted as JSON (tronpy asks it) and the owner permission: the owner's own key,
weight 1, threshold 1. `broadcasttransaction` rebuilds the protobuf from `raw_data_hex` when given, else from
the `raw_data` JSON as java-tron serialises it (tronpy sends only that), and admits it: `{"result": true,
"txid"}` or `{"code", "message": hex of the text, "txid"}` with the engine's Tron code (a transaction already
in the mempool or a block is `DUP_TRANSACTION_ERROR`). Addresses are taken as `T…` or `41…` whatever
`visible` says, and shown as `visible` asks.

**Contracts.** `triggerconstantcontract` runs a call on the head's state (any owner, known or not) with
100,000,000 energy and nothing paid, cut after 5 s: `constant_result`, `energy_used`, `logs`; a REVERT is
`result.message` = hex of "REVERT opcode executed" with the revert data as the result and the transaction's
`ret` FAILED, as java-tron answers; another failure is `{"result": {"code": "OTHER_ERROR", …}}`. `estimateenergy`
answers the energy that run spent (`energy_required`). `getcontract` / `getcontractinfo` answer the stored
`SmartContract` (ABI as java-tron prints it, its enum names) with the runtime `bytecode`; a mint's TRC-20 view
(the ERC-20 view's 20 bytes as a Tron address: the one ledger's token) answers its name and TIP-20's ABI, so
tronpy's `get_contract` drives it; `{}` for an address without code.

**Accounts.** An account is the identity the reverse index binds to the address (a legacy Tron wallet, or
any identity's derived Tron address): `balance` in sun, `create_time` the time of the block that bound it,
the owner permission; `{}` for an address never seen. Resources: bandwidth is free and nothing is staked,
so `getaccountresource` / `getaccountnet` show the free allowance (600) and no staked energy (energy is bought
with TRX at the energy price); `getchainparameters` says no fee for bandwidth or new accounts, `getEnergyFee`
100 sun, `getMaxFeeLimit` 15,000 TRX (java-tron leaves a 0 value out).

Any other path is `{"Error": …}` naming it. A request that cannot be read is `{"Error": …}` with HTTP 200, as
java-tron answers, and writes nothing.
"""
