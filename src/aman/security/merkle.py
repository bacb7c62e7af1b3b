"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs.

* ``leaf_hash(d) = SHA-256(0x00 || d)``, ``node_hash(l, r) = SHA-256(0x01 || l || r)``;
  the hash of an empty tree is ``SHA-256("")``. A tree of ``n > 1`` leaves splits at the
  largest power of two ``k < n`` (RFC 6962 §2.1).
* :class:`MerkleAccumulator` appends leaves one at a time and keeps only the roots of the
  perfect subtrees that make up the tree (O(log n) memory, O(1) amortised per append).
* :class:`MerkleTree` keeps every aligned perfect-subtree hash (about 2n hashes) so proofs
  for any earlier tree size cost O(log² n) hashes at most.
* Verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 and return ``False`` for every malformed
  or inconsistent input instead of raising.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_LEN",
    "MerkleAccumulator",
    "MerkleError",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_LEN = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF = b"\x00"
_NODE = b"\x01"


class MerkleError(ValueError):
    """Bad arguments to a Merkle tree operation (index or size out of range, bad hash)."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(h: bytes, what: str) -> bytes:
    if not isinstance(h, bytes) or len(h) != HASH_LEN:
        raise MerkleError(f"{what} must be {HASH_LEN} bytes")
    return h


class MerkleAccumulator:
    """Append-only tree state in O(log n) memory: the roots of its perfect subtrees."""

    __slots__ = ("_peaks", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._peaks: list[bytes] = []  # left to right, strictly decreasing subtree sizes

    @classmethod
    def from_state(cls, size: int, peaks: Sequence[bytes]) -> MerkleAccumulator:
        """Restore from :attr:`size` and :attr:`peaks` saved earlier."""
        if size < 0 or len(peaks) != size.bit_count():
            raise MerkleError(f"a tree of size {size} has {max(size, 0).bit_count()} peaks")
        acc = cls()
        acc._size = size
        acc._peaks = [_check_hash(p, "peak") for p in peaks]
        return acc

    @property
    def size(self) -> int:
        """Number of leaves appended."""
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees, largest (leftmost) first."""
        return tuple(self._peaks)

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        node = _check_hash(leaf, "leaf hash")
        peaks = self._peaks
        size = self._size
        while size & 1:
            node = node_hash(peaks.pop(), node)
            size >>= 1
        peaks.append(node)
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append several leaf hashes."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """Root hash of the current tree."""
        if not self._peaks:
            return EMPTY_ROOT
        acc = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            acc = node_hash(peak, acc)
        return acc


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Root hash of the tree with these leaf hashes (O(n))."""
    acc = MerkleAccumulator()
    acc.extend(leaf_hashes)
    return acc.root()


class MerkleTree:
    """All aligned perfect-subtree hashes of a growing tree, for fast proofs at any size."""

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        levels = self._levels
        levels[0].append(_check_hash(leaf, "leaf hash"))
        k = 0
        while len(levels[k]) % 2 == 0:
            if len(levels) == k + 1:
                levels.append([])
            row = levels[k]
            levels[k + 1].append(node_hash(row[-2], row[-1]))
            k += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append several leaf hashes."""
        for leaf in leaves:
            self.append(leaf)

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        if not 0 <= index < self.size:
            raise MerkleError(f"leaf index {index} is outside the tree of size {self.size}")
        return self._levels[0][index]

    def _size_arg(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise MerkleError(f"tree size {size} is outside 0..{self.size}")
        return size

    def _range(self, lo: int, hi: int) -> bytes:
        """MTH of leaves [lo, hi) (hi > lo), using cached perfect subtrees where aligned."""
        n = hi - lo
        if n & (n - 1) == 0:
            level = n.bit_length() - 1
            if lo % n == 0 and level < len(self._levels):
                return self._levels[level][lo >> level]
        k = _split(n)
        return node_hash(self._range(lo, lo + k), self._range(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the first ``size`` leaves (default: all)."""
        n = self._size_arg(size)
        return EMPTY_ROOT if n == 0 else self._range(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
        n = self._size_arg(size)
        if not 0 <= index < n:
            raise MerkleError(f"leaf index {index} is outside the tree of size {n}")
        path: list[bytes] = []
        lo, hi = 0, n
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self._range(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._range(lo, lo + k))
                lo += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 consistency proof from tree size ``old_size`` to ``size``."""
        n = self._size_arg(size)
        if not 0 <= old_size <= n:
            raise MerkleError(f"old tree size {old_size} is outside 0..{n}")
        if old_size in (0, n):
            return []
        proof: list[bytes] = []
        m, lo, hi, complete = old_size, 0, n, True
        while True:
            width = hi - lo
            if m == width:
                if not complete:
                    proof.append(self._range(lo, hi))
                break
            k = _split(width)
            if m <= k:
                proof.append(self._range(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._range(lo, lo + k))
                m -= k
                lo += k
                complete = False
        proof.reverse()
        return proof


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Audit path for leaf ``index`` of the tree with these leaf hashes."""
    return MerkleTree(leaf_hashes).inclusion_proof(index)


def consistency_proof(m: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Consistency proof from the first ``m`` leaves to all of ``leaf_hashes``."""
    return MerkleTree(leaf_hashes).consistency_proof(m)


def _valid_hashes(*items: object) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_LEN for h in items)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show ``leaf`` at ``index`` in the tree ``root_hash``?"""
    if not (0 <= index < size) or not _valid_hashes(leaf, root_hash, *proof):
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(
    m: int, n: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree ``new_root`` (size ``n``) an extension of ``old_root``?

    Size 0 is consistent with anything (empty proof, ``old_root`` must be the empty root);
    equal sizes need an empty proof and equal roots.
    """
    if not (0 <= m <= n) or not _valid_hashes(old_root, new_root, *proof):
        return False
    if m == 0:
        return not proof and old_root == EMPTY_ROOT
    if m == n:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if m & (m - 1) == 0:
        path.insert(0, old_root)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
