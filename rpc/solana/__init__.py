"""The Solana JSON-RPC endpoint (`POST /rpc/solana`) and its websocket subscriptions (`/rpc/solana/ws`): the SVM's
view of the shared chain for solana-py, solders and other clients of Solana's RPC, in Agave's (Solana 2.2's) shapes.

Slots are block heights and blockhashes the chain's own block hashes; lamports are the unified native
balance of the pubkey's identity (1 base unit = 1 lamport). Only transactions with a Solana form appear
in blocks and histories (rpc/solana/chaindata.py). The node keeps the current state only, so account
reads answer at the head, whatever commitment is asked.
"""
