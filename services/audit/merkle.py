"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs.

Why a Merkle tree: a signed root over all audit records commits to every record and to their
order, so one short signature per checkpoint makes the whole log tamper-evident, and a
consistency proof shows that a later root only *extends* an earlier one (nothing rewritten).

Why RFC 6962 exactly: it is the Certificate Transparency construction, reviewed for years and
implemented by independent tools, so an information-governance auditor can check our roots
with software we did not write. The domain-separation prefixes (0x00 for leaves, 0x01 for
interior nodes) stop a leaf being passed off as an interior node (second-preimage attack).

Everything here is pure: functions take and return ``bytes`` (32-byte SHA-256 digests).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "MerkleAccumulator",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1)."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d): the hash of one leaf."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (``n`` > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over already-hashed leaves (RFC 9162 §2.1.1)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(root(leaf_hashes[:k]), root(leaf_hashes[k:]))


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the audit path for leaf ``index`` (RFC 9162 §2.1.3.1)."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"index {index} outside tree of size {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(index, leaf_hashes[:k]), root(leaf_hashes[k:])]
    return [*inclusion_proof(index - k, leaf_hashes[k:]), root(leaf_hashes[:k])]


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """Check an audit path, following RFC 9162 §2.1.3.2 step by step."""
    if not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) that the first ``old_size`` leaves are a prefix (RFC 9162 §2.1.4.1).

    By convention the proof is empty when ``old_size`` is 0 (the empty tree is a prefix of
    every tree) or equal to the tree size (the roots must then simply be equal).
    """
    n = len(leaf_hashes)
    if not 0 <= old_size <= n:
        raise ValueError(f"old size {old_size} outside tree of size {n}")
    if old_size in (0, n):
        return []
    return _subproof(old_size, leaf_hashes, True)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check that ``old_root`` is a prefix of ``new_root`` (RFC 9162 §2.1.4.2).

    Edge cases outside the RFC algorithm (which assumes 0 < old < new): an empty old tree is
    consistent with anything given an empty proof; equal sizes need equal roots and no proof.
    """
    if not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # exact power of two: old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
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
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class MerkleAccumulator:
    """Incremental MTH: append leaves one at a time, read the root in O(log n).

    Keeps the roots of the perfect subtrees that make up the tree (one per set bit of the
    size, largest first). This is why checkpointing after every append stays cheap, and why
    the verifier can compute every prefix root in one pass.
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (subtree size, subtree root)
        self.size = 0

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash, merging equal-sized perfect subtrees."""
        size, h = 1, leaf
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, h = left_size + size, node_hash(left, h)
        self._stack.append((size, h))
        self.size += 1

    def root(self) -> bytes:
        """MTH of the leaves appended so far (folds the subtree roots right to left)."""
        if not self._stack:
            return EMPTY_ROOT
        r = self._stack[-1][1]
        for _, h in reversed(self._stack[:-1]):
            r = node_hash(h, r)
        return r

    def copy(self) -> MerkleAccumulator:
        """An independent accumulator with the same leaves (to try a candidate next leaf)."""
        clone = MerkleAccumulator()
        clone._stack = list(self._stack)
        clone.size = self.size
        return clone
