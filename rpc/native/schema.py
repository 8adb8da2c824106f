"""OpenAPI 3.1 description of the native API, served at /api/v1/schema."""

from __future__ import annotations

from typing import Any

from nvmsite.devctl import MAX_MINE, MAX_TIMESTAMP_S

HEX = {"type": "string", "pattern": "^0x[0-9a-f]*$"}
HEX32 = {"type": "string", "pattern": "^0x[0-9a-f]{64}$"}
NULLABLE_HEX = {"type": ["string", "null"], "pattern": "^0x[0-9a-f]*$"}
BLOCK_REF = {"type": "string", "pattern": "^([0-9]+|(0x)?[0-9a-fA-F]{64})$", "description": "a height, or a block hash"}
HEX_ID = {"type": "string", "pattern": "^(0x)?([0-9a-fA-F]{2})+$"}
TX_ID = {
    "type": "string",
    "pattern": "^((0x)?([0-9a-fA-F]{2})+|[1-9A-HJ-NP-Za-km-z]{64,88})$",
    "description": "hex (an envelope id, Ethereum hash, Bitcoin txid or wtxid, Tron txid), or a Solana signature in base58",
}
MAX_INCREASE_S = 10 * 365 * 86_400  # nvmsite/devctl.py: ten years at a time
STATE_FILE = {"type": "string", "contentMediaType": "application/gzip", "description": "a state file (docs/PROTOCOL.md §16.1)"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _json(_ref("Error"), "bad input; nothing was written"),
    "404": _json(_ref("Error"), "not found"),
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Status": {
        "type": "object",
        "required": ["chain_id", "height", "hash", "state_root", "timestamp_ms", "mempool_size", "engines"],
        "properties": {
            "chain_id": {"type": "integer"},
            "height": {"type": "integer"},
            "hash": HEX32,
            "state_root": HEX32,
            "timestamp_ms": {"type": "integer"},
            "mempool_size": {"type": "integer"},
            "engines": {"type": "array", "items": {"type": "string"}},
            "native_fee": {"type": "string", "description": "base units per native transaction"},
            "validator": {"type": "object", "properties": {"ed25519": HEX32, "x25519": HEX32}},
        },
    },
    "Identity": {
        "type": "object",
        "required": ["id_com", "query", "bound", "legacy", "addresses", "balances", "account", "height"],
        "properties": {
            "id_com": HEX32,
            "query": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "vm": {"type": "string"},
                    "kind": {"type": "string"},
                    "canonical": {"type": "string"},
                },
            },
            "bound": {"type": "boolean", "description": "false: an address never seen; this is the identity it will get"},
            "legacy": {"type": ["object", "null"], "properties": {"chain": {"type": "string"}, "address": {"type": "string"}}},
            "addresses": {
                "type": "object",
                "required": ["evm", "svm", "btc", "tron"],
                "properties": {k: {"type": "string"} for k in ("evm", "svm", "btc", "tron")},
            },
            "balances": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["mint", "symbol", "decimals", "base_units", "amount", "views"],
                    "properties": {
                        "mint": HEX32,
                        "symbol": {"type": "string"},
                        "name": {"type": "string"},
                        "decimals": {"type": "integer"},
                        "base_units": {"type": "string"},
                        "amount": {"type": "string"},
                        "erc20_address": {"type": "string"},
                        "views": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "required": ["unit", "amount", "whole_unit", "whole"],
                                "properties": {
                                    "unit": {"type": "string", "description": "the VM's smallest unit"},
                                    "amount": {"type": "string", "description": "in that unit, exactly"},
                                    "whole_unit": {
                                        "type": "string",
                                        "description": "the native token's ETH, SOL, BTC, TRX; a user mint's symbol",
                                    },
                                    "whole": {"type": "string", "description": "the amount in the whole unit"},
                                    "token_account": {
                                        "type": "string",
                                        "description": "SVM view of a user mint: the associated token account (base58)",
                                    },
                                },
                            },
                        },
                    },
                },
            },
            "account": {
                "type": "object",
                "properties": {
                    "exists": {"type": "boolean"},
                    "nonce": {"type": "integer"},
                    "factors": {"type": "array", "items": {"type": "object"}},
                },
            },
            "height": {"type": ["integer", "null"]},
        },
    },
    "Header": {
        "type": "object",
        "required": [
            "height",
            "hash",
            "parent_hash",
            "timestamp_ms",
            "state_root",
            "tx_root",
            "receipts_root",
            "proposer",
            "signature",
            "tx_count",
        ],
        "properties": {
            "height": {"type": "integer"},
            "hash": HEX32,
            "parent_hash": HEX32,
            "timestamp_ms": {"type": "integer"},
            "state_root": HEX32,
            "tx_root": HEX32,
            "receipts_root": HEX32,
            "proposer": HEX32,
            "signature": HEX,
            "tx_count": {"type": "integer"},
        },
    },
    "BlockPage": {
        "type": "object",
        "required": ["blocks", "next_before"],
        "properties": {
            "blocks": {"type": "array", "items": _ref("Header")},
            "next_before": {"type": ["integer", "null"], "description": "pass as ?before= for the next page"},
        },
    },
    "Block": {
        "allOf": [
            _ref("Header"),
            {
                "type": "object",
                "properties": {
                    "transactions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "position": {"type": "integer"},
                                "id": HEX32,
                                "opcode": {"type": "integer"},
                                "vm": {"type": ["string", "null"]},
                                "success": {"type": "boolean"},
                            },
                        },
                    }
                },
            },
        ]
    },
    "Transaction": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": HEX32,
            "ids": {"type": "array", "items": HEX},
            "status": {"enum": ["pending", "committed"]},
            "block": {"type": "object", "properties": {"height": {"type": "integer"}, "hash": HEX32}},
            "position": {"type": "integer"},
            "opcode": {"type": "integer"},
            "vm": {"type": ["string", "null"]},
            "envelope": HEX,
            "receipt": {
                "type": "object",
                "properties": {
                    "success": {"type": "boolean"},
                    "fee": {"type": "string", "description": "base units"},
                    "gas_used": {"type": "integer"},
                    "code": {"type": ["string", "null"]},
                    "message": {"type": ["string", "null"]},
                    "output": HEX,
                    "logs": {"type": "array", "items": HEX},
                    "log_lines": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "a Solana transaction's program log as text (its logs, decoded)",
                    },
                },
            },
            "diff": {
                "type": "array",
                "items": {"type": "object", "properties": {"key": HEX32, "old": NULLABLE_HEX, "new": NULLABLE_HEX}},
            },
        },
    },
    "Simulation": {
        "type": "object",
        "required": ["recognised", "admitted", "error", "included", "pending", "receipt", "balance_changes", "diff"],
        "properties": {
            "recognised": {
                "type": "object",
                "required": ["chain", "vm", "encoding", "native_id", "native_id_text", "envelope", "envelope_id"],
                "properties": {
                    "chain": {"enum": ["ethereum", "solana", "bitcoin", "tron", "nvm"]},
                    "vm": {"enum": ["native", "evm", "svm", "bvm", "tvm", None], "description": "null: no VM's (a devnet edit)"},
                    "encoding": {"enum": ["hex", "base58", "base64", "json"]},
                    "native_id": NULLABLE_HEX,
                    "native_id_text": {
                        "type": ["string", "null"],
                        "description": "the native id as its chain writes it: base58 (Solana), bare hex (Bitcoin, Tron), 0x-hex",
                    },
                    "envelope": HEX,
                    "envelope_id": HEX32,
                },
            },
            "admitted": {"type": "boolean", "description": "false: admission refused it (see error)"},
            "error": {
                "type": ["object", "null"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
            "included": {"type": ["object", "null"], "description": "already in a block: its height and position"},
            "pending": {"type": "boolean", "description": "already in the mempool"},
            "receipt": {"type": ["object", "null"], "description": "what running it as the next block's first would give"},
            "balance_changes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id_com", "mint", "symbol", "before", "after"],
                    "properties": {
                        "id_com": HEX32,
                        "mint": HEX32,
                        "symbol": {"type": "string"},
                        "before": {"type": "string"},
                        "after": {"type": "string"},
                    },
                },
            },
            "diff": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Submitted": {
        "type": "object",
        "required": ["id", "ids", "status"],
        "properties": {"id": HEX32, "ids": {"type": "array", "items": HEX}, "status": {"const": "pending"}},
    },
    "StateProof": {
        "type": "object",
        "required": ["key", "value", "included", "height", "root", "proof", "verified"],
        "properties": {
            "key": HEX32,
            "value": NULLABLE_HEX,
            "value_hash": NULLABLE_HEX,
            "included": {"type": "boolean"},
            "height": {"type": "integer"},
            "block_hash": HEX32,
            "root": HEX32,
            "proof": {"type": "object", "description": "docs/PROTOCOL.md, 'State root': proof JSON"},
            "verified": {"type": "boolean"},
        },
    },
}


def openapi() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "n-VM devnet native API",
            "version": "1",
            "description": "Blocks, transactions by any id, state proofs. Errors are {error: {code, message}}.",
        },
        "paths": {
            **DEV_PATHS,
            "/api/v1/status": {
                "get": {"summary": "chain head and mempool size", "responses": {"200": _json(_ref("Status"), "status")}}
            },
            "/api/v1/blocks": {
                "get": {
                    "summary": "newest blocks first",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                        {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    ],
                    "responses": {"200": _json(_ref("BlockPage"), "a page of blocks"), **ERRORS},
                }
            },
            "/api/v1/blocks/{ref}": {
                "get": {
                    "summary": "one block by height or hash",
                    "parameters": [{"name": "ref", "in": "path", "required": True, "schema": BLOCK_REF}],
                    "responses": {"200": _json(_ref("Block"), "the block"), **ERRORS},
                }
            },
            "/api/v1/tx": {
                "post": {
                    "summary": "submit an envelope (opcode byte + body, hex)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "required": ["envelope"], "properties": {"envelope": HEX}}
                            }
                        },
                    },
                    "responses": {"202": _json(_ref("Submitted"), "admitted to the mempool"), **ERRORS},
                }
            },
            "/api/v1/simulate": {
                "post": {
                    "summary": "a raw signed transaction of any chain (hex, base58, base64 or TronLink JSON): "
                    "which chain's it is and what the node would do with it now; nothing is written",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "required": ["raw"], "properties": {"raw": {"type": "string"}}}
                            }
                        },
                    },
                    "responses": {"200": _json(_ref("Simulation"), "recognised, and the dry run"), **ERRORS},
                }
            },
            "/api/v1/tx/{id}": {
                "get": {
                    "summary": "a transaction by any of its ids (envelope id, or its chain's native id)",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": TX_ID}],
                    "responses": {"200": _json(_ref("Transaction"), "the transaction"), **ERRORS},
                }
            },
            "/api/v1/state/proof": {
                "get": {
                    "summary": "inclusion or non-inclusion proof of a state key against the head's state root",
                    "parameters": [{"name": "key", "in": "query", "required": True, "schema": HEX32}],
                    "responses": {"200": _json(_ref("StateProof"), "the proof"), **ERRORS},
                }
            },
            "/api/v1/identity/{ref}": {
                "get": {
                    "summary": "an identity by id_com or any VM address: its four addresses, balances in every unit, account",
                    "parameters": [{"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": _json(_ref("Identity"), "the identity"), **ERRORS},
                }
            },
            "/api/v1/schema": {"get": {"summary": "this document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        },
        "components": {"schemas": SCHEMAS},
    }


def _dev_post(summary: str, body: dict[str, Any], **rules: Any) -> dict[str, Any]:
    """`rules`: what else the body's schema says (`required`, `oneOf`)."""
    return {
        "post": {
            "summary": summary + " (devnet mode only: 403 devnet_off otherwise)",
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": body, **rules}}}},
            "responses": {
                "200": {"description": "done", "content": {"application/json": {"schema": {"type": "object"}}}},
                **ERRORS,
                "403": _json(_ref("Error"), "devnet_off: the node does not run in devnet mode"),
                "503": _json(_ref("Error"), "producer_timeout / producer_busy: the block producer did not answer in time"),
            },
        }
    }


DEV_PATHS: dict[str, Any] = {
    "/api/v1/dev": {
        "get": {
            "summary": "the devnet controls in force (mining mode, clock offset, next timestamp)",
            "responses": {
                "200": {"description": "the controls", "content": {"application/json": {"schema": {"type": "object"}}}},
                **ERRORS,
            },
        }
    },
    "/api/v1/dev/mine": _dev_post(
        "make blocks now, empty or not; answers the new height",
        {"blocks": {"type": "integer", "minimum": 1, "maximum": MAX_MINE}},
    ),
    "/api/v1/dev/time": _dev_post(
        "move the clock forward, or fix the next block's timestamp (UNIX seconds)",
        {
            "increase_s": {"type": "integer", "minimum": 0, "maximum": MAX_INCREASE_S},
            "next_timestamp": {"type": "integer", "minimum": 0, "maximum": MAX_TIMESTAMP_S},
        },
        oneOf=[{"required": ["increase_s"]}, {"required": ["next_timestamp"]}],
    ),
    "/api/v1/dev/balance": _dev_post(
        "set the balance of any address of any VM, in that VM's unit or in base units",
        {"address": {"type": "string"}, "amount": {"type": "string", "pattern": "^[0-9]+$"}, "unit": {"enum": ["vm", "base"]}},
        required=["address", "amount"],
    ),
    "/api/v1/dev/impersonate": {
        "get": {
            "summary": "who is impersonated: {auto, evm: [hex], tron: [hex]} (devnet mode only: 403 devnet_off otherwise)",
            "responses": {
                "200": {"description": "impersonated", "content": {"application/json": {"schema": {"type": "object"}}}},
                **ERRORS,
            },
        },
        **_dev_post(
            "take unsigned transactions from an EVM (0x…) or Tron (T…) address — eth_sendTransaction, Tron's "
            "broadcasttransaction without a signature — or stop (`stop`: true); `auto`: every address",
            {"address": {"type": "string"}, "stop": {"type": "boolean"}, "auto": {"type": "boolean"}},
            oneOf=[{"required": ["address"]}, {"required": ["auto"]}],
            dependentRequired={"stop": ["address"]},
        ),
    },
    "/api/v1/dev/snapshot": _dev_post("a snapshot of the whole chain (state, blocks, mempool): its id", {}),
    "/api/v1/dev/revert": _dev_post(
        "everything back to a snapshot (used up with later ones)", {"id": {"type": "integer"}}, required=["id"]
    ),
    "/api/v1/dev/reset": _dev_post("back to genesis, with an empty mempool", {}),
    "/api/v1/dev/state": {
        "get": {
            "summary": "the whole chain as a state file: every VM's state, the blocks and their transactions "
            "(docs/PROTOCOL.md §16.1; devnet mode only: 403 devnet_off otherwise)",
            "parameters": [
                {
                    "name": "recent",
                    "in": "query",
                    "description": "the last n blocks only, instead of every block",
                    "schema": {"type": "integer", "minimum": 256},
                }
            ],
            "responses": {
                "200": {"description": "gzip-compressed JSON lines", "content": {"application/gzip": {"schema": STATE_FILE}}},
                **ERRORS,
            },
        },
        "post": {
            "summary": "replace the whole chain with a state file's (the body); the block producer checks it, writes it "
            "in one database transaction and goes on from its head (devnet mode only: 403 devnet_off otherwise)",
            "requestBody": {"required": True, "content": {"application/gzip": {"schema": STATE_FILE}}},
            "responses": {
                "200": _json(
                    {"type": "object", "properties": {"height": {"type": "integer"}, "hash": HEX32, "state_root": HEX32}},
                    "the new head",
                ),
                **ERRORS,
            },
        },
    },
    "/api/v1/dev/mining": _dev_post(
        "interval or on-demand block production",
        {"mode": {"enum": ["interval", "on_demand"]}, "interval_ms": {"type": "integer", "minimum": 10, "maximum": 3_600_000}},
        required=["mode"],
    ),
}
