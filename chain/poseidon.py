"""Poseidon over the BN254 scalar field, bit-compatible with circomlib / circomlibjs / go-iden3-crypto.

SPEC §4 commits an identity as `Poseidon(rev_hi, rev_lo, salt, domain)` so that a zk circuit
written with circomlib's `Poseidon(4)` can prove knowledge of the REV behind an id_com.

The permutation (circomlibjs `poseidon_reference.js`): width t = n + 1, state
`[init_state, in_1, …, in_n]`; each of R_F + R_P rounds adds the round constants, applies
x^5 to every element (the R_F/2 first and last rounds) or to state[0] only (the R_P partial
rounds in between), then multiplies by the MDS matrix, `s'[i] = Σ_j M[i][j]·s[j]`, in every
round including the last. The hash is state[0].

No PyPI package both reproduces circomlib and covers 1…16 inputs (vectors/poseidon/VECTORS.md §4),
so the round constants and MDS matrices are generated here, once per width and on first use,
by the hadeshash Grain LFSR procedure that produced circomlibjs `poseidon_constants.json`
(`generate_parameters_grain.sage 1 0 254 t 8 R_P p`, VECTORS.md §3).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass

# BN254 (alt_bn128) scalar field order r, the field circom circuits compute in (VECTORS.md §1).
P = 21888242871839275222246405745257275088548364400416034343698204186575808495617
ALPHA = 5  # S-box x^α
FULL_ROUNDS = 8  # R_F, half before and half after the partial rounds
# R_P for t = 2 … 17 (circomlibjs N_ROUNDS_P: the paper's values rounded up to a multiple of t).
PARTIAL_ROUNDS = (56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68)
MAX_INPUTS = 16  # go-iden3-crypto and circomlibjs stop at t = 17

# generate_parameters_grain.sage arguments: field = 1 (GF(p)), s_box = 0 (x^α), n = 254 bits.
GRAIN_FIELD = 1
GRAIN_SBOX = 0
FIELD_BITS = 254
GRAIN_DISCARDED_BITS = 160


@dataclass(frozen=True)
class PoseidonParams:
    """The constants of one width: `round_constants[r]` holds round r's t additive constants."""

    t: int
    partial_rounds: int
    round_constants: tuple[tuple[int, ...], ...]
    mds: tuple[tuple[int, ...], ...]


class _Grain:
    """The 80-bit Grain LFSR of the hadeshash script, in self-shrinking mode.

    b[i+80] = b[i+62] ^ b[i+51] ^ b[i+38] ^ b[i+23] ^ b[i+13] ^ b[i]; the first 160 bits are
    dropped, then of each pair of bits the second is output when the first is 1. The state is
    an int whose bit k is b[i+k]; the nearest tap is 18 bits back, so 18 bits come per step.
    """

    _STEP = 18

    def __init__(self, t: int, partial_rounds: int) -> None:
        seed = f"{GRAIN_FIELD:02b}{GRAIN_SBOX:04b}{FIELD_BITS:012b}{t:012b}{FULL_ROUNDS:010b}{partial_rounds:010b}" + "1" * 30
        self._state = int(seed[::-1], 2)
        self._raw = ""
        self._out = ""
        self._fill_raw(GRAIN_DISCARDED_BITS)
        self._raw = self._raw[GRAIN_DISCARDED_BITS:]

    def _fill_raw(self, n: int) -> None:
        chunks = [self._raw]
        have = len(self._raw)
        s = self._state
        while have < n:
            new = (s >> 62 ^ s >> 51 ^ s >> 38 ^ s >> 23 ^ s >> 13 ^ s) & ((1 << self._STEP) - 1)
            s = (s >> self._STEP) | (new << 62)
            chunks.append(format(new, f"0{self._STEP}b")[::-1])  # oldest bit first
            have += self._STEP
        self._state = s
        self._raw = "".join(chunks)

    def bits(self, n: int) -> int:
        """The next n output bits read most-significant first, as the script's `grain_random_bits`."""
        while len(self._out) < n:
            self._fill_raw(1024)
            even = len(self._raw) & ~1
            pairs = zip(self._raw[0:even:2], self._raw[1:even:2], strict=True)
            self._out += "".join(second for first, second in pairs if first == "1")
            self._raw = self._raw[even:]
        value, self._out = int(self._out[:n], 2), self._out[n:]
        return value


def _round_constants(grain: _Grain, count: int) -> list[int]:
    constants: list[int] = []
    while len(constants) < count:
        value = grain.bits(FIELD_BITS)
        if value < P:  # rejection sampling keeps the constants uniform in the field
            constants.append(value)
    return constants


def _cauchy_mds(grain: _Grain, t: int) -> tuple[tuple[int, ...], ...]:
    """M[i][j] = 1 / (x_i + y_j) with 2t distinct field elements drawn from the LFSR.

    The script would redraw the matrix if its security checks (algorithms 1-3 of the
    hadeshash paper) failed; for every t = 2 … 17 the first draw passes (VECTORS.md §3),
    and the known-answer tests pin that.
    """
    while True:
        draws = [grain.bits(FIELD_BITS) % P for _ in range(2 * t)]
        if len(set(draws)) != 2 * t:
            continue
        xs, ys = draws[:t], draws[t:]
        if any((x + y) % P == 0 for x in xs for y in ys):
            continue
        return tuple(tuple(pow(x + y, -1, P) for y in ys) for x in xs)


@functools.cache
def params(t: int) -> PoseidonParams:
    """Round constants and MDS matrix of width t (2 … 17), generated on first use and cached."""
    if not 2 <= t <= MAX_INPUTS + 1:
        raise ValueError(f"Poseidon width t must be 2 … {MAX_INPUTS + 1}, got {t}")
    partial_rounds = PARTIAL_ROUNDS[t - 2]
    rounds = FULL_ROUNDS + partial_rounds
    grain = _Grain(t, partial_rounds)
    flat = _round_constants(grain, t * rounds)  # drawn before the MDS: the order is part of the result
    mds = _cauchy_mds(grain, t)
    return PoseidonParams(t, partial_rounds, tuple(tuple(flat[r * t : (r + 1) * t]) for r in range(rounds)), mds)


def permute(state: Sequence[int]) -> list[int]:
    """The Poseidon permutation of a full state of width 2 … 17 (all elements in the field)."""
    _check_field_elements(state, "state element")
    return _permute(list(state), params(len(state)))


def _permute(s: list[int], prm: PoseidonParams) -> list[int]:
    half = FULL_ROUNDS // 2
    last_partial = half + prm.partial_rounds
    mds = prm.mds
    mul = operator.mul
    for r, constants in enumerate(prm.round_constants):
        s = [x + c for x, c in zip(s, constants, strict=True)]
        if half <= r < last_partial:
            s[0] = pow(s[0], ALPHA, P)
        else:
            s = [pow(x, ALPHA, P) for x in s]
        s = [sum(map(mul, row, s)) % P for row in mds]
    return s


def poseidon(inputs: Sequence[int]) -> int:
    """circomlib `Poseidon(n)` of 1 … 16 field elements (go-iden3-crypto `poseidon.Hash`)."""
    return poseidon_ex(inputs)[0]


def poseidon_ex(inputs: Sequence[int], init_state: int = 0, n_out: int = 1) -> list[int]:
    """circomlib `PoseidonEx(n, n_out)`: state[0] starts as `init_state`; returns state[0 : n_out]."""
    if not 1 <= len(inputs) <= MAX_INPUTS:
        raise ValueError(f"Poseidon takes 1 … {MAX_INPUTS} inputs, got {len(inputs)}")
    state = [init_state, *inputs]
    if not 1 <= n_out <= len(state):
        raise ValueError(f"n_out must be 1 … {len(state)}, got {n_out}")
    _check_field_elements(state, "input")
    return _permute(state, params(len(state)))[:n_out]


def _check_field_elements(values: Sequence[int], what: str) -> None:
    # Refuse rather than reduce mod p (go-iden3-crypto does the same): two byte strings must
    # never commit to the same id_com just because they are congruent.
    for v in values:
        if not 0 <= v < P:
            raise ValueError(f"Poseidon {what} {v} is not in the BN254 scalar field [0, p)")
