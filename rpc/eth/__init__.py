"""The Ethereum JSON-RPC endpoint (`POST /rpc/eth`): the EVM's view of the shared chain for web3.py, ethers and wallets.

Block numbers are heights, block hashes are the chain's own block hashes, transaction hashes are the
Ethereum hashes of the 0x10 envelopes. Only EVM transactions appear in blocks, receipts and logs; the
other VMs' transactions are in the same blocks but have no Ethereum form. The node keeps the current
state only, so state reads and calls answer for the head ("latest") and nothing older.
"""
