//! The Merkle tree a checkpoint commits to: RFC 9162 (Certificate Transparency v2) §2.1, with
//! SHA-256, so that any CT library can check Ward's inclusion proofs.
//!
//! `MTH({})       = SHA-256()`
//! `MTH({d})      = SHA-256(0x00 ‖ d)`
//! `MTH(D[0..n])  = SHA-256(0x01 ‖ MTH(D[0..k]) ‖ MTH(D[k..n]))`, `k` the largest power of two `< n`.

use sha2::{Digest, Sha256};

use crate::chain::Hash;

/// `SHA-256(0x00 ‖ data)`: the hash of one leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly below `n` (`n ≥ 2`).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The root over already-hashed leaves.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => Sha256::digest([]).into(),
        [one] => *one,
        _ => {
            let (l, r) = leaves.split_at(split(leaves.len()));
            node_hash(&root(l), &root(r))
        }
    }
}

/// The audit path of leaf `index`: sibling hashes from the leaf up to the root.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let mut path = Vec::new();
    prove(leaves, index, &mut path);
    path
}

fn prove(leaves: &[Hash], index: usize, path: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let (l, r) = leaves.split_at(split(leaves.len()));
    if index < l.len() {
        prove(l, index, path);
        path.push(root(r));
    } else {
        prove(r, index - l.len(), path);
        path.push(root(l));
    }
}

/// Checks that `leaf` (already hashed) is leaf `index` of a tree of `size` leaves with `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&[i as u8])).collect()
    }

    #[test]
    fn every_proof_of_every_tree_size_verifies_and_no_other_does() {
        for n in 1..=33 {
            let ls = leaves(n);
            let r = root(&ls);
            for i in 0..n {
                let path = inclusion_proof(&ls, i);
                assert!(
                    verify_inclusion(&ls[i], i as u64, n as u64, &path, &r),
                    "n={n} i={i}"
                );
                let other = (i + 1) % n;
                if other != i {
                    assert!(!verify_inclusion(&ls[other], i as u64, n as u64, &path, &r));
                    assert!(
                        !verify_inclusion(&ls[i], other as u64, n as u64, &path, &r)
                            || path.is_empty()
                    );
                }
                // (The size alone is not bound by a path: the signed checkpoint binds it.)
                let other_root = root(&leaves(n + 1));
                assert!(!verify_inclusion(
                    &ls[i],
                    i as u64,
                    n as u64,
                    &path,
                    &other_root
                ));
            }
        }
    }

    #[test]
    fn roots_match_the_rfc_construction() {
        // Three leaves: k = 2, so MTH = H(1 ‖ H(1 ‖ l0 ‖ l1) ‖ l2).
        let ls = leaves(3);
        assert_eq!(root(&ls), node_hash(&node_hash(&ls[0], &ls[1]), &ls[2]));
        assert_eq!(
            hex::encode(root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
