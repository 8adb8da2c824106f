"""Tables of the chain. Byte strings are stored raw (bytea / BLOB), never hex."""

from django.db import models


class Block(models.Model):
    height = models.BigIntegerField(primary_key=True)
    hash = models.BinaryField(unique=True)
    header = models.BinaryField()  # canonical encoding, chain.blocks.Header.decode reads it back
    timestamp_ms = models.BigIntegerField()
    state_root = models.BinaryField()
    tx_count = models.IntegerField()
    schedule = models.TextField(null=True)  # JSON: how this node executed it (chain/parallel.py); not consensus

    class Meta:
        db_table = "nvm_block"


class Transaction(models.Model):
    envelope_id = models.BinaryField(primary_key=True)  # H(envelope)
    block = models.ForeignKey(Block, on_delete=models.CASCADE, db_column="height", related_name="txs")
    position = models.IntegerField()
    opcode = models.SmallIntegerField()
    envelope = models.BinaryField()
    context = models.BinaryField(null=True)  # the 16-byte context tag, when the transaction carries one
    success = models.BooleanField()
    receipt = models.BinaryField()  # chain.dispatcher.Receipt.encode()
    diff = models.BinaryField()  # chain.node.encode_diff()
    exec_us = models.IntegerField(null=True)  # how long this node took to run it (not consensus: the explorer's trace)
    # its mempool entry's seq: the order this node admitted it in (eth_newPendingTransactionFilter reads it);
    # null for a transaction loaded from a state file
    seq = models.BigIntegerField(null=True)

    class Meta:
        db_table = "nvm_tx"
        constraints = [models.UniqueConstraint(fields=["block", "position"], name="nvm_tx_block_position")]


class TxAlias(models.Model):
    """The native ids a transaction is known by besides its envelope id (Ethereum tx hash, Solana
    signature, Bitcoin txid and wtxid, Tron txid) -> the transaction."""

    alias = models.BinaryField(primary_key=True)
    tx = models.ForeignKey(Transaction, on_delete=models.CASCADE, db_column="envelope_id", related_name="aliases")

    class Meta:
        db_table = "nvm_tx_alias"


class StateEntry(models.Model):
    key = models.BinaryField(primary_key=True)
    value = models.BinaryField()

    class Meta:
        db_table = "nvm_state"


class TreeNode(models.Model):
    """State-tree node blob by nibble path (chain.tree)."""

    path = models.CharField(max_length=64, primary_key=True)
    blob = models.BinaryField()

    class Meta:
        db_table = "nvm_tree_node"


class MempoolEntry(models.Model):
    """An admitted envelope waiting for a block; kept in SQL so a restart loses none."""

    seq = models.BigAutoField(primary_key=True)
    envelope_id = models.BinaryField(unique=True)
    opcode = models.SmallIntegerField()
    envelope = models.BinaryField()
    admitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "nvm_mempool"


class DevControl(models.Model):
    """The devnet controls the web processes set and the block producer obeys (nvmsite/devctl.py): one JSON row."""

    key = models.CharField(max_length=32, primary_key=True)
    value = models.TextField()

    class Meta:
        db_table = "nvm_dev_control"


class DevSnapshot(models.Model):
    """A devnet snapshot (nvmsite/devctl.py): the head it was taken at, and the mempool then (JSON)."""

    id = models.BigAutoField(primary_key=True)
    height = models.BigIntegerField()
    head_hash = models.BinaryField()
    mempool = models.TextField()  # [[envelope_id hex, opcode, envelope hex, [claim hex, …]], …]

    class Meta:
        db_table = "nvm_dev_snapshot"


class MempoolClaim(models.Model):
    """What a waiting transaction holds exclusively (chain.dispatcher.Tx.claims): a Bitcoin outpoint it spends."""

    claim = models.BinaryField(primary_key=True)
    envelope_id = models.BinaryField(db_index=True)

    class Meta:
        db_table = "nvm_mempool_claim"


class AddressIndex(models.Model):
    """SQL mirror of the reverse index held in the state (SPEC §2): VM address -> id_com."""

    tag = models.CharField(max_length=8)
    address = models.BinaryField()
    id_com = models.BinaryField(db_index=True)
    height = models.BigIntegerField()  # block that bound it

    class Meta:
        db_table = "nvm_address_index"
        constraints = [models.UniqueConstraint(fields=["tag", "address"], name="nvm_address_index_tag_address")]


class MintIndex(models.Model):
    """Every mint ever created (the state keys are hashes, so mints cannot be listed from them)."""

    mint = models.BinaryField(primary_key=True)
    height = models.BigIntegerField()

    class Meta:
        db_table = "nvm_mint"


class TxParty(models.Model):
    """Which identities each transaction wrote balances, allowances or keys of: an identity's
    transactions across every VM, newest first (the fee collector, paid by all, is left out)."""

    id = models.BigAutoField(primary_key=True)
    id_com = models.BinaryField()
    height = models.BigIntegerField()
    position = models.IntegerField()
    envelope_id = models.BinaryField()

    class Meta:
        db_table = "nvm_tx_party"
        indexes = [models.Index(fields=["id_com", "-height", "-position"], name="nvm_tx_party_by_identity")]
