"""Esplora's REST API at `/api/btc/` (Blockstream's electrs, the API wallets such as bitcoinjs-based ones,
BDK's Esplora client and mempool.space's libraries speak): its paths, JSON shapes, plain-text errors and
statuses, over this chain's BVM (SPEC §1, §3). Amounts are sats (1 sat = 10 base units).

How this chain answers in Esplora's terms — the decisions:

**Blocks.** `id` is the block hash as every interface of this node writes it (hex of H(header), SPEC §6;
there is no Bitcoin header to reverse). `merkle_root` is the header's transactions root (SHA-256, RFC 6962
over envelopes — not Bitcoin's merkle tree), `previousblockhash` the parent (null at genesis),
`timestamp` the block time in seconds. `tx_count` and `/txids` count the block's Bitcoin transactions;
other VMs' transactions have no Bitcoin form and are left out, as the Solana and Ethereum views leave out
theirs. `size` is the block as stored (header and every envelope), `weight` four times that, a Bitcoin
transaction's witness once. Constants on this chain: `version` is the header encoding's version (1),
`nonce` 0, `bits` 0x207fffff and `difficulty` ≈ 4.66e-10 (regtest's proof-of-work limit: a single
validator signs blocks, nothing is mined), `mediantime` = `timestamp` (one block time, which lock-times are
checked against).

**Transactions.** A Bitcoin transaction (0x30) a block executed is confirmed in it; one in the mempool is
unconfirmed. One the block refused (its coin moved after admission) never happened in Bitcoin's terms: like
a conflict evicted from a mempool, Esplora no longer knows it (404; `/api/v1/tx/<txid>` shows its receipt).
An input's `prevout` is the account coin it spent, with that coin's value and script.

**Account coins.** Each identity's balance is one coin, `(txid, 0)` (SPEC §3); `/address/:a/utxo` lists
it — value floored to whole sats, confirmed in the block that made it; none below one sat, and none while a
pending transaction spends it. A coin's txid is a hash, not a transaction's: `/tx/<coin txid>` answers the
current coin of a Bitcoin wallet (the coins a raw transaction can spend are indexed by txid) as a
transaction with no inputs and that one output, so wallets that read a previous output's value and script
from `/tx/:txid` work; `/hex` and `/raw` are 404 (no bytes hash to that txid). A coin that has been spent,
or another identity's coin (not indexed, and not spendable by a raw Bitcoin transaction), is 404. Outputs of
a pending transaction are not UTXOs: they become part of each payee's next coin when the block is made.

**Outspends.** A committed transaction's output credited its payee's balance, so it is in the coin the payee
holds at the end of that block; the output is spent when that coin is — by the next block that changes the
payee's balance. When a Bitcoin transaction spent the coin, the answer names its txid, input and status;
when something else moved the balance (a payment into it, another VM's transfer, a fee), it is
`{"spent": true}` alone: no Bitcoin input spent it. A pending transaction spending the coin is an
unconfirmed spend. OP_RETURN outputs and a pending transaction's outputs are unspent.

**Address stats.** `funded_txo_*` counts every coin the address's identity has had, `spent_txo_*` every
coin it no longer has, so funded minus spent is its coin now, in sats (balances a wallet computes from them
come out right); `tx_count` counts the Bitcoin transactions that touched it, which `/txs` lists. The
mempool stats count pending Bitcoin transactions: outputs paying the address, its coin they spend. An
identity with more than 50,000 transactions is refused as electrs refuses one: "Too many history entries".

**Fees.** The relay floor is 1 sat/vB and a block takes every admitted transaction (up to its size), so
`/fee-estimates` answers 1.0 sat/vB for every confirmation target electrs lists.

**Broadcast.** `POST /tx` (the hex as the body) answers the txid, or HTTP 400 with bitcoind's error as
electrs relays it: `sendrawtransaction RPC error: {"code":-26,"message":"<Core's reject reason>"}` (-25
for missing or spent inputs, -22 "TX decode failed…" for bytes that are no transaction). A transaction
already in the mempool is answered with its txid, as bitcoind does.

**Statuses.** As electrs: an unknown txid's `/status` is `{"confirmed": false}`, an unknown block's
`{"in_best_chain": false}`; an unknown transaction, block or coin elsewhere is 404, bad input 400, both with
a plain-text reason.

**Not supported** (404 saying why): `/block/:hash/header` and `/raw` (no 80-byte Bitcoin header),
`/tx/:txid/merkle-proof` and `/merkleblock-proof` (no Bitcoin merkle tree), `/scripthash/…` (no index by
script hash), `/address-prefix/…`, the deprecated `GET /broadcast`. A second transaction spending a coin
that a pending one already spends is admitted (admission reads the committed state) and refused by the
block: there is no `txn-mempool-conflict`, and no replace-by-fee.
"""
