"""The chain's persistence adapter: the only package that defines tables and writes them.

`SqlStore` implements the `chain.node.Store` protocol with Django's ORM over PostgreSQL
(production) or SQLite (embedded default). A block is written in exactly one database
transaction: header, transactions with receipts and diffs, their look-up ids, state entries,
tree nodes, the reverse-index mirror, and removal of its entries from the mempool.
"""
