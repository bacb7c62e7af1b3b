"""Tests for aman.security.merkle against a naive RFC 6962 reference written here."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aman.security.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    MerkleError,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# --- naive reference, straight from the RFC 6962 §2.1 definitions ----------------------


def ref_mth(data: list[bytes]) -> bytes:
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < len(data):
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(data[:k]) + ref_mth(data[k:])).digest()


def ref_path(m: int, data: list[bytes]) -> list[bytes]:
    if len(data) <= 1:
        return []
    k = 1
    while k * 2 < len(data):
        k *= 2
    if m < k:
        return [*ref_path(m, data[:k]), ref_mth(data[k:])]
    return [*ref_path(m - k, data[k:]), ref_mth(data[:k])]


def ref_subproof(m: int, data: list[bytes], complete: bool) -> list[bytes]:
    if m == len(data):
        return [] if complete else [ref_mth(data)]
    k = 1
    while k * 2 < len(data):
        k *= 2
    if m <= k:
        return [*ref_subproof(m, data[:k], complete), ref_mth(data[k:])]
    return [*ref_subproof(m - k, data[k:], False), ref_mth(data[:k])]


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def items(n: int) -> list[bytes]:
    return [f"entry-{i}".encode() for i in range(n)]


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(d) for d in items(n)]


# --- known answers ---------------------------------------------------------------------


def test_hash_prefixes_and_empty_tree() -> None:
    assert sha(b"") == EMPTY_ROOT
    assert root([]) == sha(b"")
    assert leaf_hash(b"abc") == sha(b"\x00abc")
    assert node_hash(b"L" * 32, b"R" * 32) == sha(b"\x01" + b"L" * 32 + b"R" * 32)
    assert root([leaf_hash(b"x")]) == sha(b"\x00x")


def test_hand_built_trees_of_1_to_8_leaves() -> None:
    d = items(8)
    h = [sha(b"\x00" + x) for x in d]

    def n(a: bytes, b: bytes) -> bytes:
        return sha(b"\x01" + a + b)

    expected = {
        1: h[0],
        2: n(h[0], h[1]),
        3: n(n(h[0], h[1]), h[2]),
        4: n(n(h[0], h[1]), n(h[2], h[3])),
        5: n(n(n(h[0], h[1]), n(h[2], h[3])), h[4]),
        6: n(n(n(h[0], h[1]), n(h[2], h[3])), n(h[4], h[5])),
        7: n(n(n(h[0], h[1]), n(h[2], h[3])), n(n(h[4], h[5]), h[6])),
        8: n(n(n(h[0], h[1]), n(h[2], h[3])), n(n(h[4], h[5]), n(h[6], h[7]))),
    }
    for size, value in expected.items():
        assert root(h[:size]) == value == ref_mth(d[:size])
    # Audit path of leaf 4 in the 7-leaf tree: sibling leaf 5, leaf 6, then the left half.
    left = n(n(h[0], h[1]), n(h[2], h[3]))
    assert inclusion_proof(4, h[:7]) == [h[5], h[6], left]
    # RFC 6962 §2.1.3 example (tree of 7): PROOF(3) = [c, d, g, l], PROOF(4) = [l],
    # PROOF(6) = [i, j, k], with c, d = leaves 2, 3; g = n(0, 1); i = n(4, 5); j = leaf 6;
    # k = n(g, n(2, 3)); l = n(i, j).
    i, j = n(h[4], h[5]), h[6]
    g, k, l_ = n(h[0], h[1]), left, n(i, j)
    assert consistency_proof(3, h[:7]) == [h[2], h[3], g, l_]
    assert consistency_proof(4, h[:7]) == [l_]
    assert consistency_proof(6, h[:7]) == [i, j, k]


def test_published_certificate_transparency_roots() -> None:
    # Leaf inputs and expected roots from the Certificate Transparency test vectors.
    data = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        bytes(range(0x50, 0x58)),
        bytes(range(0x60, 0x70)),
    ]
    expected = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    for size in range(1, 9):
        assert root([leaf_hash(x) for x in data[:size]]).hex() == expected[size - 1]


def test_against_reference_for_all_small_trees() -> None:
    for n in range(0, 40):
        d = items(n)
        tree = MerkleTree(leaf_hash(x) for x in d)
        assert tree.root() == ref_mth(d)
        for size in range(n + 1):
            assert tree.root(size) == ref_mth(d[:size])
        for i in range(n):
            assert tree.inclusion_proof(i) == ref_path(i, d)
        for m in range(1, n):
            assert tree.consistency_proof(m) == ref_subproof(m, d, True)


# --- accumulator -----------------------------------------------------------------------


def test_accumulator_tracks_root_and_restores() -> None:
    acc = MerkleAccumulator()
    hashes = leaves(70)
    for i, h in enumerate(hashes):
        acc.append(h)
        assert acc.size == i + 1
        assert acc.root() == root(hashes[: i + 1])
        assert len(acc.peaks) == (i + 1).bit_count()
    restored = MerkleAccumulator.from_state(acc.size, acc.peaks)
    restored.append(leaf_hash(b"next"))
    assert restored.root() == root([*hashes, leaf_hash(b"next")])
    with pytest.raises(MerkleError, match="has 3 peaks"):
        MerkleAccumulator.from_state(70, acc.peaks[:2])
    with pytest.raises(MerkleError):
        acc.append(b"short")


def test_tree_argument_errors() -> None:
    tree = MerkleTree(leaves(5))
    with pytest.raises(MerkleError, match="leaf index 5 is outside the tree of size 5"):
        tree.inclusion_proof(5)
    with pytest.raises(MerkleError, match=r"tree size 6 is outside 0\.\.5"):
        tree.root(6)
    with pytest.raises(MerkleError, match=r"old tree size 4 is outside 0\.\.3"):
        tree.consistency_proof(4, 3)
    with pytest.raises(MerkleError):
        tree.inclusion_proof(-1)
    assert tree.consistency_proof(0) == [] and tree.consistency_proof(5) == []
    assert tree.leaf(2) == leaves(5)[2]


def test_proofs_for_earlier_sizes_match_a_fresh_tree() -> None:
    big = MerkleTree(leaves(300))
    for size in (1, 2, 3, 64, 65, 127, 200, 300):
        small = MerkleTree(leaves(size))
        assert big.root(size) == small.root()
        for i in (0, size // 2, size - 1):
            assert big.inclusion_proof(i, size) == small.inclusion_proof(i)
        for m in (1, size // 3, size - 1):
            if 0 < m < size:
                assert big.consistency_proof(m, size) == small.consistency_proof(m)


# --- verification edge cases -------------------------------------------------------------


def test_verify_inclusion_rejects_bad_arguments() -> None:
    hashes = leaves(10)
    r = root(hashes)
    proof = inclusion_proof(3, hashes)
    assert verify_inclusion(3, 10, hashes[3], proof, r)
    assert not verify_inclusion(10, 10, hashes[3], proof, r)
    assert not verify_inclusion(-1, 10, hashes[3], proof, r)
    assert not verify_inclusion(3, 10, hashes[3], [*proof, proof[0]], r)
    assert not verify_inclusion(3, 10, hashes[3], proof[:-1], r)
    assert not verify_inclusion(3, 10, hashes[3][:31], proof, r)
    assert verify_inclusion(0, 1, hashes[0], [], hashes[0])
    assert not verify_inclusion(0, 1, hashes[0], [hashes[1]], hashes[0])


def test_verify_consistency_edge_cases() -> None:
    hashes = leaves(10)
    r10, r4 = root(hashes), root(hashes[:4])
    assert verify_consistency(0, 10, EMPTY_ROOT, r10, [])
    assert not verify_consistency(0, 10, r4, r10, [])
    assert verify_consistency(10, 10, r10, r10, [])
    assert not verify_consistency(10, 10, r10, r4, [])
    assert not verify_consistency(10, 10, r10, r10, [r4])
    assert not verify_consistency(4, 10, r4, r10, [])
    assert not verify_consistency(11, 10, r4, r10, [r4])
    assert not verify_consistency(4, 10, r4, r10, [*consistency_proof(4, hashes), r4])


# --- properties --------------------------------------------------------------------------


def _flip(h: bytes, bit: int) -> bytes:
    out = bytearray(h)
    out[bit // 8 % 32] ^= 1 << (bit % 8)
    return bytes(out)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=300))
def test_inclusion_proofs_verify_and_detect_any_change(data: st.DataObject, size: int) -> None:
    hashes = leaves(size)
    tree = MerkleTree(hashes)
    r = tree.root()
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = tree.inclusion_proof(index)
    assert verify_inclusion(index, size, hashes[index], proof, r)
    bit = data.draw(st.integers(min_value=0, max_value=255))
    assert not verify_inclusion(index, size, _flip(hashes[index], bit), proof, r)
    assert not verify_inclusion(index, size, hashes[index], proof, _flip(r, bit))
    if proof:
        pos = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        altered = list(proof)
        altered[pos] = _flip(altered[pos], bit)
        assert not verify_inclusion(index, size, hashes[index], altered, r)
    if size > 1:
        other = data.draw(st.integers(min_value=0, max_value=size - 1).filter(lambda i: i != index))
        assert not verify_inclusion(other, size, hashes[index], proof, r)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), size=st.integers(min_value=2, max_value=300))
def test_consistency_proofs_verify_and_detect_any_change(data: st.DataObject, size: int) -> None:
    hashes = leaves(size)
    tree = MerkleTree(hashes)
    m = data.draw(st.integers(min_value=1, max_value=size - 1))
    old, new = tree.root(m), tree.root()
    proof = tree.consistency_proof(m)
    assert verify_consistency(m, size, old, new, proof)
    bit = data.draw(st.integers(min_value=0, max_value=255))
    assert not verify_consistency(m, size, _flip(old, bit), new, proof)
    assert not verify_consistency(m, size, old, _flip(new, bit), proof)
    pos = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
    altered = list(proof)
    altered[pos] = _flip(altered[pos], bit)
    assert not verify_consistency(m, size, old, new, altered)
    # a different history of the same length is not consistent
    forked = list(hashes)
    changed = data.draw(st.integers(min_value=0, max_value=m - 1))
    forked[changed] = _flip(forked[changed], bit)
    assert not verify_consistency(m, size, MerkleTree(forked).root(m), new, proof)
