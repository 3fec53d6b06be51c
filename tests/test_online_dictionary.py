"""Tests of online dictionary learning (``sparse_coding.learn_dictionary_online`` and its
compiled steps in src/unsupervised/_dictionary.py): each step against a formula written
out independently here, the whole method against a planted dictionary and against the
alternating optimisation, and its bookkeeping (determinism, shapes, bad input)."""

from __future__ import annotations

import numpy as np
import pytest

from unsupervised._dictionary import _accumulate, _update_atoms
from unsupervised.datasets import image_patches
from unsupervised.sparse_coding import (
    _forgetting,
    encode,
    learn_dictionary,
    learn_dictionary_online,
    objective,
)


def surrogate(A, H, C):
    """tr(A^T A H) / 2 - tr(A^T C): the online method's model of the loss (up to a constant)."""
    return 0.5 * np.trace(A.T @ A @ H) - np.trace(A.T @ C)


def statistics(rng, d, p, n=200):
    Z = rng.normal(size=(n, p)) * (rng.random((n, p)) < 0.2)
    X = rng.normal(size=(n, d))
    return Z.T @ Z, X.T @ Z, Z, X


def test_one_atom_step_is_the_exact_minimiser_over_the_unit_ball():
    """For atom j with the others fixed the surrogate is H_jj ||a||^2 / 2 - a^T r_j with
    r_j = c_j - sum_{m != j} H_jm a_m (written here without the a_j + (c_j - A h_j) / H_jj
    form of the library), minimised in the ball by the projection of r_j / H_jj. The pass
    must produce, atom after atom, exactly these minimisers (1e-12), and never raise the
    surrogate; any other point of the ball is worse."""
    rng = np.random.default_rng(0)
    d, p = 7, 12
    H, C, _, _ = statistics(rng, d, p)
    A = rng.normal(size=(d, p))
    A /= np.linalg.norm(A, axis=0)
    expected = A.copy()
    for j in range(p):
        others = [m for m in range(p) if m != j]
        r = C[:, j] - expected[:, others] @ H[others, j]
        v = r / H[j, j]
        expected[:, j] = v / max(np.linalg.norm(v), 1.0)
    before = surrogate(A, H, C)
    At = np.ascontiguousarray(A.T)
    _update_atoms(At, H, np.ascontiguousarray(C.T))
    np.testing.assert_allclose(At.T, expected, atol=1e-12)
    assert surrogate(At.T, H, C) <= before
    # block optimality of the last atom: random points of the ball do not do better
    for _ in range(50):
        B = At.T.copy()
        u = rng.normal(size=d)
        B[:, -1] = u / np.linalg.norm(u) * rng.random()
        assert surrogate(B, H, C) >= surrogate(At.T, H, C) - 1e-12


def test_statistics_are_the_dense_products():
    """H <- beta H + Z^T Z and Ct <- beta Ct + Z^T X for both pairs, from the non-zeros only
    (1e-12), and the batch loss equals SC2's objective (dense, ``objective``) to 1e-12."""
    rng = np.random.default_rng(1)
    H0, C0, Z, X = statistics(rng, 5, 9)
    A = rng.normal(size=(5, 9))
    H, Ct, H2, Ct2 = H0.copy(), np.ascontiguousarray(C0.T), 2 * H0, 2 * np.ascontiguousarray(C0.T)
    loss = _accumulate(H, Ct, H2, Ct2, Z, X, 0.7, np.ascontiguousarray(A.T), 0.3)
    np.testing.assert_allclose(H, 0.7 * H0 + Z.T @ Z, atol=1e-12)
    np.testing.assert_allclose(Ct, 0.7 * C0.T + Z.T @ X, atol=1e-12)
    np.testing.assert_allclose(H2, 1.4 * H0 + Z.T @ Z, atol=1e-12)
    np.testing.assert_allclose(Ct2, 1.4 * C0.T + Z.T @ X, atol=1e-12)
    assert loss == pytest.approx(objective(X, A, Z, 0.3), rel=1e-12)


def test_the_memory_of_the_statistics_is_two_passes():
    """Weights of the batches in H after t batches: each batch enters with weight 1 and is
    multiplied by every later beta. With N = 2,000 and m = 100 the total weight (in samples)
    settles at 2 N + 1 = 4,001 (the geometric series m / (1 - beta) with the capped beta),
    not growing without bound as without the cap, and the first batch's weight decays."""
    m, N = 100, 2000
    total, first = 0.0, None
    for t in range(1, 3001):
        beta = _forgetting(t, m, N)
        total = beta * total + m
        first = m if t == 1 else beta * first
    assert total == pytest.approx(2 * N + 1, rel=1e-9)
    assert first < 1e-30


def test_one_batch_of_all_samples_is_one_block_pass_on_their_statistics():
    """n_iter = 1 with batch_size = N: the result is one pass of the per-atom minimiser
    (written out as in the first test) on H = Z^T Z and C = X^T Z of the codes under the
    starting dictionary, i.e. the statistics of this batch, not of none or of an older one."""
    X = image_patches(500, seed=10)
    A0 = X[:12].T / np.linalg.norm(X[:12], axis=1)
    Z0 = encode(X, A0, 0.15)
    assert np.all(np.any(Z0 != 0, axis=0))  # every atom used: no resampling
    H, C = Z0.T @ Z0, X.T @ Z0
    expected = A0.copy()
    for j in range(12):
        others = [k for k in range(12) if k != j]
        v = (C[:, j] - expected[:, others] @ H[others, j]) / H[j, j]
        expected[:, j] = v / max(np.linalg.norm(v), 1.0)
    A1, _, _ = learn_dictionary_online(X, 12, 0.15, 1, batch_size=500, init=A0)
    np.testing.assert_allclose(A1, expected, atol=1e-10)


def test_a_planted_dictionary_is_recovered():
    """Samples made of 3 of 20 random unit atoms in R^16 (no noise), eta = 0.2: after 1,000
    batches of 64 (16 passes) every planted atom has a learned atom with |cos| > 0.99, up
    to sign and order (the classical identifiability experiment of dictionary learning;
    observed 0.997 at worst; after 300 batches or with eta = 0.02 the worst is 0.45-0.65,
    as for scikit-learn's MiniBatchDictionaryLearning: the test needs the long run)."""
    rng = np.random.default_rng(2)
    d, p, n = 16, 20, 4000
    D = rng.normal(size=(d, p))
    D /= np.linalg.norm(D, axis=0)
    Z = np.zeros((n, p))
    for i in range(n):
        Z[i, rng.choice(p, 3, replace=False)] = rng.normal(size=3) + np.sign(rng.normal(size=3))
    X = Z @ D.T
    A, Z_A, _ = learn_dictionary_online(X, p, 0.2, 1000, batch_size=64, seed=0)
    cos = np.abs(D.T @ (A / np.linalg.norm(A, axis=0)))
    assert np.all(cos.max(axis=1) > 0.99), np.sort(cos.max(axis=1))[:3]
    # and the learned dictionary explains X as well as the planted one (within 1%)
    assert objective(X, A, Z_A, 0.2) <= 1.01 * objective(X, D, encode(X, D, 0.2), 0.2)


def test_online_learning_on_image_patches_beats_the_alternating_method_at_equal_encodings():
    """3,000 patches, 64 atoms, eta = 0.15: the atoms stay in the unit ball, Z is encode's
    exact codes of X under A, and 60 batches reach a lower L / N than 5 rounds of the
    alternating optimisation (each round re-encodes all 3,000 patches: 5 x 3,000 = 15,000
    encodings against 60 x 256 = 15,360), from the same initial dictionary."""
    X = image_patches(3000, seed=5)
    A, Z, hist = learn_dictionary_online(X, 64, 0.15, 60, seed=0)
    assert np.linalg.norm(A, axis=0).max() <= 1 + 1e-12
    np.testing.assert_array_equal(Z, encode(X, A, 0.15))
    A_alt, Z_alt, _ = learn_dictionary(X, 64, 0.15, 1e-3, 5, seed=0, normalize_atoms=True)
    assert objective(X, A, Z, 0.15) < objective(X, A_alt, Z_alt, 0.15)
    assert hist["batch_loss"].shape == hist["seconds"].shape == (60,)
    assert np.all(np.diff(hist["seconds"]) >= 0)


def test_same_seed_same_dictionary_and_passes_wrap_around():
    """Deterministic for a seed, over 25 batches of 100 on 1,000 samples (two and a half
    passes: the permutation is redrawn at each pass), and different for another seed."""
    X = image_patches(1000, seed=6)
    A1, _, h1 = learn_dictionary_online(X, 16, 0.15, 25, batch_size=100, seed=3)
    A2, _, h2 = learn_dictionary_online(X, 16, 0.15, 25, batch_size=100, seed=3)
    np.testing.assert_array_equal(A1, A2)
    np.testing.assert_array_equal(h1["batch_loss"], h2["batch_loss"])
    A3, _, _ = learn_dictionary_online(X, 16, 0.15, 25, batch_size=100, seed=4)
    assert not np.allclose(A1, A3)


def test_an_atom_no_code_uses_is_replaced_by_a_sample_of_the_batch():
    """A zero atom in init is never used by a code (H_jj = 0): after the first batch it is
    a unit-norm sample of that batch (the history counts it), and never again."""
    X = image_patches(400, seed=9)
    init = X[:4].T / np.linalg.norm(X[:4], axis=1)
    init[:, 2] = 0.0
    A, _, hist = learn_dictionary_online(X, 4, 0.15, 5, batch_size=100, seed=1, init=init)
    assert hist["resampled"].tolist() == [1, 0, 0, 0, 0]
    A1, _, _ = learn_dictionary_online(X, 4, 0.15, 1, batch_size=100, seed=1, init=init)
    rows = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert np.isclose(np.abs(rows @ A1[:, 2]).max(), 1.0, atol=1e-12)  # one of the samples


def test_a_starting_dictionary_is_projected_onto_the_unit_ball():
    """Atoms of init longer than 1 are scaled into the ball first, so the documented
    ||a_j|| <= 1 holds even for atoms no sample ever uses (here X = 0: none is updated)."""
    X = np.zeros((8, 3))
    init = 3.0 * np.eye(3)[:, :2]
    A, _, _ = learn_dictionary_online(X, 2, 0.1, 3, batch_size=4, init=init)
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"batch_size": 11}, "batch_size"),
        ({"init": np.ones((3, 2))}, "init"),
        ({"n_iter": 0}, "n_iter"),
        ({"eta": 0.0}, "eta"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(kwargs, name):
    X = np.random.default_rng(0).normal(size=(10, 4))
    args = {"n_atoms": 3, "eta": 0.1, "n_iter": 2, "batch_size": 5} | kwargs
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        learn_dictionary_online(X, **args)
