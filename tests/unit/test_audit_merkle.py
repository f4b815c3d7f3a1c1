"""RFC 6962 / 9162 Merkle tree: known vectors, proof round trips, tampered proofs rejected."""

from __future__ import annotations

import pytest

from services.audit import merkle

# Leaves and roots of the Certificate Transparency reference test data (RFC 6962 test vectors).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"leaf-{i}".encode()) for i in range(n)]


def test_empty_tree_root_is_sha256_of_empty_string() -> None:
    expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.root([]).hex() == expected
    assert merkle.MerkleAccumulator().root().hex() == expected


@pytest.mark.parametrize("size", range(1, 9))
def test_ct_reference_roots(size: int) -> None:
    hashes = [merkle.leaf_hash(d) for d in CT_LEAVES[:size]]
    assert merkle.root(hashes).hex() == CT_ROOTS[size - 1]


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert merkle.leaf_hash(a + b) != merkle.node_hash(a, b)


def test_accumulator_matches_recursive_root() -> None:
    acc = merkle.MerkleAccumulator()
    leaves = _leaves(70)
    for n, leaf in enumerate(leaves, start=1):
        acc.append(leaf)
        assert acc.root() == merkle.root(leaves[:n])
    assert acc.size == 70


@pytest.mark.parametrize("size", range(1, 41))
def test_inclusion_proofs_round_trip_and_reject_tampering(size: int) -> None:
    leaves = _leaves(size)
    tree_root = merkle.root(leaves)
    for i, leaf in enumerate(leaves):
        proof = merkle.inclusion_proof(i, leaves)
        assert merkle.verify_inclusion(leaf, i, size, proof, tree_root)
        assert not merkle.verify_inclusion(merkle.leaf_hash(b"x"), i, size, proof, tree_root)
        if size > 1:
            assert not merkle.verify_inclusion(leaf, (i + 1) % size, size, proof, tree_root)
            bad = [bytes(32), *proof[1:]]
            assert not merkle.verify_inclusion(leaf, i, size, bad, tree_root)
            assert not merkle.verify_inclusion(leaf, i, size, proof[:-1], tree_root)
            assert not merkle.verify_inclusion(leaf, i, size, [*proof, bytes(32)], tree_root)
    assert not merkle.verify_inclusion(leaves[0], size, size, [], tree_root)


@pytest.mark.parametrize("new_size", range(1, 41))
def test_consistency_proofs_round_trip_and_reject_tampering(new_size: int) -> None:
    leaves = _leaves(new_size)
    new_root = merkle.root(leaves)
    for old_size in range(new_size + 1):
        old_root = merkle.root(leaves[:old_size])
        proof = merkle.consistency_proof(old_size, leaves)
        assert merkle.verify_consistency(old_size, new_size, old_root, new_root, proof)
        if 0 < old_size < new_size:
            wrong_old = merkle.root([*_leaves(old_size - 1), merkle.leaf_hash(b"forged")])
            assert not merkle.verify_consistency(old_size, new_size, wrong_old, new_root, proof)
            assert not merkle.verify_consistency(old_size, new_size, old_root, bytes(32), proof)
            bad = [bytes(32), *proof[1:]]
            assert not merkle.verify_consistency(old_size, new_size, old_root, new_root, bad)
            assert not merkle.verify_consistency(old_size, new_size, old_root, new_root, [])
            assert not merkle.verify_consistency(
                old_size, new_size, old_root, new_root, [*proof, bytes(32)]
            )


def test_equal_sizes_need_equal_roots() -> None:
    leaves = _leaves(5)
    r = merkle.root(leaves)
    assert merkle.verify_consistency(5, 5, r, r, [])
    assert not merkle.verify_consistency(5, 5, r, bytes(32), [])
    assert not merkle.verify_consistency(6, 5, r, r, [])


def test_proof_arguments_out_of_range_raise() -> None:
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(3, _leaves(3))
    with pytest.raises(ValueError, match="outside"):
        merkle.consistency_proof(4, _leaves(3))
