"""Tests of unsupervised.autoencoders (formulas AE1-AE7) and of the chapter's exercise checkers."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers import assert_no_numbers, run, stub
from unsupervised.autoencoders import (
    Autoencoder,
    average_activation,
    bernoulli_kl,
    denoising_loss,
    kl_sparsity,
    mask_noise,
    pretrain_stacked,
    principal_angles,
    reconstruction_loss,
    sparse_loss,
    train,
)
from unsupervised.exercises import _common
from unsupervised.exercises import autoencoders as ex

DT = torch.float64


def small_data(N=120, d=6, seed=0):
    """Data with a clear principal subspace: variances 9, 4 along two directions, <= 0.25 else."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    scales = np.array([3.0, 2.0] + [0.5, 0.4, 0.3, 0.2, 0.1, 0.05][: d - 2])
    return 1.5 + (rng.normal(size=(N, d)) * scales) @ basis.T


# --------------------------------------------------------------------------- AE1
def test_autoencoder_shapes_and_composition_order():
    model = Autoencoder([10, 7, 3], seed=1, dtype=DT)
    x = torch.rand(5, 10, dtype=DT)
    z = model.encode(x)
    assert z.shape == (5, 3) and model.decode(z).shape == (5, 10)
    # forward is g o f: compared with the composition written out from the four layers
    # (float64; different summation order than torch's addmm: a few ulps of values ~1).
    L1, L2, L3, L4 = [m for m in [*model.encoder, *model.decoder] if isinstance(m, nn.Linear)]
    layer = lambda h, lin: torch.sigmoid(h @ lin.weight.T + lin.bias)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x), layer(layer(layer(layer(x, L1), L2), L3), L4), rtol=1e-12, atol=1e-14
        )
    assert model.input_dim == 10 and model.code_dim == 3
    assert model.decoder_sizes == [3, 7, 10]
    with pytest.raises(ValueError, match="z"):
        model.decode(x)  # f o g is not defined when d != p: g needs a code in R^p


def test_encoder_is_the_hand_written_layer():
    model = Autoencoder([4, 3], activation="sigmoid", output_activation="identity", dtype=DT)
    x = torch.rand(6, 4, dtype=DT)
    W1, b1 = model.encoder[0].weight, model.encoder[0].bias
    W2, b2 = model.decoder[0].weight, model.decoder[0].bias
    z = torch.sigmoid(x @ W1.T + b1)
    torch.testing.assert_close(model.encode(x), z)
    torch.testing.assert_close(model(x), z @ W2.T + b2)
    assert W2.shape == (4, 3)


def test_initialisation_is_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = Autoencoder([8, 4], seed=3)
    b = Autoencoder([8, 4], seed=3)
    c = Autoencoder([8, 4], seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    for layer in (a.encoder[0], a.decoder[0]):  # U(-1/sqrt(in), 1/sqrt(in))
        bound = 1 / math.sqrt(layer.in_features)
        assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"encoder_sizes": [8]}, "encoder_sizes"),
        ({"encoder_sizes": [8, 0]}, "encoder_sizes"),
        ({"encoder_sizes": [8, 4], "decoder_sizes": [4, 7]}, "decoder_sizes"),
        ({"encoder_sizes": [8, 4], "activation": "softmax"}, "activation"),
        ({"encoder_sizes": [8, 4], "output_activation": "gelu"}, "output_activation"),
        ({"encoder_sizes": [8, 4], "seed": -1}, "seed"),
    ],
)
def test_autoencoder_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Autoencoder(**kwargs)


# --------------------------------------------------------------------------- AE2
def test_reconstruction_loss_hand_value_and_sum_form():
    x = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]], dtype=DT)
    x_hat = torch.tensor([[0.5, 0.0, 2.0], [1.0, 1.0, -1.0]], dtype=DT)
    # per-sample squared errors: 0.25 and 1 + 4 = 5; mean 2.625
    assert reconstruction_loss(x, x_hat).item() == pytest.approx(2.625, abs=1e-15)
    assert (len(x) * reconstruction_loss(x, x_hat)).item() == pytest.approx(5.25, abs=1e-15)


def test_reconstruction_loss_rejects_bad_inputs():
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="x_hat"):
        reconstruction_loss(x, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="x"):
        reconstruction_loss(torch.tensor([[float("nan"), 0.0]]), torch.zeros(1, 2))


def test_linear_autoencoder_spans_the_principal_subspace():
    # Baldi & Hornik (1989): the decoder's column space is the top-p right singular subspace
    # of the centred data, and the loss reaches the Eckart-Young minimum.
    X, p = small_data(), 2
    _, s, Vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    model = Autoencoder([6, p], activation="identity", output_activation="identity", dtype=DT)
    train(model, X, epochs=1500, lr=0.05, seed=0, schedule="anneal")
    with torch.no_grad():
        Xt = torch.tensor(X)
        loss = reconstruction_loss(Xt, model(Xt)).item()
    optimum = np.sum(s[p:] ** 2) / len(X)
    assert optimum <= loss < optimum * (1 + 1e-4)
    angles = principal_angles(model.decoder[0].weight, Vt[:p].T)
    # The notebook's bound: sin^2(theta_max) <= N (loss - optimum) / (s_p^2 - s_{p+1}^2).
    bound = np.arcsin(np.sqrt(len(X) * (loss - optimum) / (s[p - 1] ** 2 - s[p] ** 2)))
    assert angles.max() <= bound and angles.max() < 1e-3, (angles, bound)
    random_angles = principal_angles(np.random.default_rng(1).normal(size=(6, p)), Vt[:p].T)
    assert random_angles.max() > 0.3


def test_principal_angles_hand_values_and_basis_invariance():
    t = 0.3
    U = np.array([[1.0], [0.0], [0.0]])
    V = np.array([[math.cos(t)], [math.sin(t)], [0.0]])
    np.testing.assert_allclose(principal_angles(U, V), [t], atol=1e-12)
    A = np.random.default_rng(0).normal(size=(5, 2))
    B = A @ np.array([[2.0, 1.0], [0.5, -3.0]])  # same column space, other basis
    np.testing.assert_allclose(principal_angles(A, B), [0.0, 0.0], atol=1e-7)
    E = np.eye(4)
    np.testing.assert_allclose(principal_angles(E[:, :2], E[:, 2:]), [np.pi / 2] * 2)
    angles = principal_angles(torch.tensor(E[:, :3]), E[:, [0, 1, 3]])
    assert np.all(np.diff(angles) >= 0)  # increasing order
    np.testing.assert_allclose(angles, [0.0, 0.0, np.pi / 2], atol=1e-12)


def test_principal_angles_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same number of rows"):
        principal_angles(np.ones((3, 1)), np.ones((4, 1)))
    with pytest.raises(ValueError, match="U"):
        principal_angles(np.ones(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match="V"):
        principal_angles(np.ones((3, 1)), np.full((3, 1), np.nan))


# --------------------------------------------------------------------------- AE4-AE6
@settings(max_examples=60, deadline=None)
@given(st.floats(0.01, 0.99), st.floats(0.001, 0.999))
def test_bernoulli_kl_is_nonnegative_and_matches_torch_distributions(r, q):
    q_t = torch.tensor([q], dtype=DT)
    kl = bernoulli_kl(r, q_t)
    reference = torch.distributions.kl_divergence(
        torch.distributions.Bernoulli(probs=torch.tensor([r], dtype=DT)),
        torch.distributions.Bernoulli(probs=q_t),
    )
    assert kl.item() >= 0
    torch.testing.assert_close(kl, reference, rtol=1e-9, atol=1e-12)


def test_kl_sparsity_is_zero_iff_rho_hat_equals_rho_star():
    rho = 0.05
    z = torch.full((7, 4), rho, dtype=DT)
    assert kl_sparsity(z, rho).item() == pytest.approx(0.0, abs=1e-15)
    z2 = z.clone()
    z2[0, 2] += 0.01  # one unit's mean moves off rho*
    assert kl_sparsity(z2, rho).item() > 0
    # Different samples, same means: still zero (a function of rho_hat only).
    z3 = torch.tensor([[0.0, 0.1], [0.1, 0.0]], dtype=DT)
    assert kl_sparsity(z3, rho).item() == pytest.approx(0.0, abs=1e-15)


def test_kl_sparsity_gradient_matches_the_analytic_derivative():
    rng = np.random.default_rng(0)
    N, p, rho = 9, 5, 0.1
    z = torch.tensor(rng.uniform(0.01, 0.9, size=(N, p)), dtype=DT, requires_grad=True)
    kl_sparsity(z, rho).backward()
    rho_hat = z.detach().mean(dim=0)
    analytic = ((rho_hat - rho) / (rho_hat * (1 - rho_hat)) / N).expand(N, p)
    torch.testing.assert_close(z.grad, analytic, rtol=1e-12, atol=1e-14)
    # ... and a central finite difference of the penalty
    h = 1e-6
    e = torch.zeros(N, p, dtype=DT)
    e[3, 1] = h
    fd = (kl_sparsity(z.detach() + e, rho) - kl_sparsity(z.detach() - e, rho)) / (2 * h)
    assert fd.item() == pytest.approx(analytic[3, 1].item(), rel=1e-7)


def test_kl_sparsity_is_a_function_of_the_batch():
    z = torch.tensor([[0.2, 0.1], [0.4, 0.3]], dtype=DT)
    z_other = z.clone()
    z_other[1] = torch.tensor([0.9, 0.0])
    # the first sample is unchanged, but the penalty of the batch changes with the others
    penalties = [kl_sparsity(b, 0.1).item() for b in (z[:1], z, z_other)]
    assert len(set(penalties)) == 3
    torch.testing.assert_close(average_activation(z), torch.tensor([0.3, 0.2], dtype=DT))


def test_average_activation_is_the_column_mean():
    # Hand values: columns (0.2, 0.4, 0.9) and (0.1, 0.3, 0.0) -> 0.5 and 0.1 (exact up to
    # float64 rounding of the decimal inputs).
    z = torch.tensor([[0.2, 0.1], [0.4, 0.3], [0.9, 0.0]], dtype=DT)
    torch.testing.assert_close(
        average_activation(z), torch.tensor([0.5, 0.4 / 3], dtype=DT), rtol=1e-15, atol=1e-16
    )
    # A random batch against NumPy's column mean (float64, ~1e-16 relative).
    Z = np.random.default_rng(4).uniform(size=(37, 5))
    np.testing.assert_allclose(
        average_activation(torch.tensor(Z)).numpy(), Z.sum(axis=0) / 37, rtol=1e-14
    )
    # kl_sparsity uses this rho_hat: its value is the Bernoulli KL of the column means.
    rho = 0.2
    reference = sum(
        rho * math.log(rho / q) + (1 - rho) * math.log((1 - rho) / (1 - q)) for q in Z.mean(axis=0)
    )
    assert kl_sparsity(torch.tensor(Z), rho).item() == pytest.approx(reference, rel=1e-12)
    for bad in (torch.ones(3), np.ones((2, 2)), torch.full((2, 2), float("nan"))):
        with pytest.raises(ValueError, match="z"):
            average_activation(bad)


def test_kl_sparsity_stays_finite_for_dead_and_saturated_units():
    z = torch.zeros(4, 3, dtype=DT, requires_grad=True)
    with torch.no_grad():
        z[:, 2] = 1.0
    loss = kl_sparsity(z, 0.05)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


def _kl_with_tangent_floor_by_hand(z, r, c):
    """An independent, unit-by-unit transcription of the documented penalty: KL(r || q) for
    q in [c, 1 - c], its tangent line at c below, at 1 - c above."""
    total = 0.0
    for q in z.mean(dim=0):
        if q < c:
            total = total + (
                r * math.log(r / c)
                + (1 - r) * math.log((1 - r) / (1 - c))
                + (c - r) / (c * (1 - c)) * (q - c)
            )
        elif q > 1 - c:
            e = 1 - c
            total = total + (
                r * math.log(r / e)
                + (1 - r) * math.log((1 - r) / (1 - e))
                + (e - r) / (e * (1 - e)) * (q - e)
            )
        else:
            total = total + r * torch.log(r / q) + (1 - r) * torch.log((1 - r) / (1 - q))
    return total


def test_kl_sparsity_gradient_below_the_floor_matches_an_independent_expression():
    r, c, N = 0.05, 1e-6, 6
    z = torch.zeros(N, 5, dtype=DT)
    z[0, 1] = 6e-8  # rho_hat = 1e-8: below the floor
    z[:, 2] = torch.linspace(0.1, 0.5, N, dtype=DT)  # rho_hat = 0.3: the exact range
    z[:, 3] = 1.0  # saturated: rho_hat = 1, above 1 - floor
    z[:, 4] = 3e-6  # rho_hat = 3e-6: just inside the exact range
    za, zb = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
    value = kl_sparsity(za, r, floor=c)
    value.backward()
    reference = _kl_with_tangent_floor_by_hand(zb, r, c)
    reference.backward()
    # Tolerance: float64 evaluations of the same formulas in different order.
    torch.testing.assert_close(value, reference, rtol=1e-12, atol=0)
    torch.testing.assert_close(za.grad, zb.grad, rtol=1e-12, atol=0)
    # Below the floor the gradient is KL'(c) / N: negative (pushes rho_hat up), not 0 ...
    slope = (c - r) / (c * (1 - c))
    torch.testing.assert_close(
        za.grad[:, 0], torch.full((N,), slope / N, dtype=DT), rtol=1e-12, atol=0
    )
    torch.testing.assert_close(za.grad[:, 1], za.grad[:, 0], rtol=0, atol=0)
    assert (za.grad[:, 3] > 0).all()  # saturated unit: pushed down
    # ... whereas a plain clamp of rho_hat, the former implementation, gives exactly 0 there.
    zc = z.clone().requires_grad_(True)
    q = zc.mean(dim=0).clamp(c, 1 - c)
    (r * torch.log(r / q) + (1 - r) * torch.log((1 - r) / (1 - q))).sum().backward()
    assert torch.all(zc.grad[:, [0, 1, 3]] == 0)


def test_kl_push_on_a_sigmoid_bias_is_bounded_by_rho_star():
    # d rho(Z) / d b_j = KL'(rho_hat_j) m_j, m_j = mean_n z(1 - z) <= rho_hat_j: between
    # -rho* and 0 for every rho_hat_j < rho*, tending to -rho* as the unit dies.
    r = 0.05
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.uniform(size=(40, 3)), dtype=DT)
    w = torch.tensor(rng.normal(scale=0.5, size=(3, 1)), dtype=DT)
    b = torch.linspace(-3, -30, 28, dtype=DT).requires_grad_(True)  # 28 units
    z = torch.sigmoid(x @ w + b)  # (40, 28)
    kl_sparsity(z, r).backward()
    with torch.no_grad():
        rho_hat, m = z.mean(dim=0), (z * (1 - z)).mean(dim=0)
    inside = rho_hat >= 1e-6
    assert inside.sum() >= 5 and (~inside).sum() >= 5
    analytic = (rho_hat - r) / (rho_hat * (1 - rho_hat)) * m
    torch.testing.assert_close(b.grad[inside], analytic[inside], rtol=1e-9, atol=0)
    below = rho_hat < r
    assert below.sum() >= 25
    assert torch.all(b.grad[below] < 0) and torch.all(-b.grad[below] <= r)
    deepest_inside = int(torch.nonzero(inside).max())
    assert abs(b.grad[deepest_inside].item() + r) < 1e-3 * r
    # below the floor: the tangent's slope times m_j (non-zero, but smaller than rho*)
    slope = (1e-6 - r) / (1e-6 * (1 - 1e-6))
    torch.testing.assert_close(b.grad[~inside], slope * m[~inside], rtol=1e-9, atol=0)


def test_kl_sparsity_rejects_a_bad_floor():
    for floor in (0.0, 0.05, 0.6, "a", True):
        with pytest.raises(ValueError, match="floor"):
            kl_sparsity(torch.full((2, 2), 0.5), 0.05, floor=floor)


@pytest.mark.parametrize("rho_star", [0.0, 1.0, -0.1, 1.5, float("nan"), "a"])
def test_kl_sparsity_rejects_rho_star_outside_the_open_interval(rho_star):
    with pytest.raises(ValueError, match="rho_star"):
        kl_sparsity(torch.full((2, 2), 0.5), rho_star)


def test_kl_sparsity_rejects_activations_outside_unit_interval():
    with pytest.raises(ValueError, match="z"):
        kl_sparsity(torch.tensor([[-0.5, 0.2]]), 0.1)
    with pytest.raises(ValueError, match="rho_hat"):
        bernoulli_kl(0.1, torch.tensor([0.0]))


def test_sparse_loss_pieces_add_up():
    model = Autoencoder([6, 8], seed=2, dtype=DT)
    x = torch.rand(10, 6, dtype=DT, generator=torch.Generator().manual_seed(0))
    eta, rho, lam = 0.7, 0.05, 1e-3
    with torch.no_grad():
        # An independent reference: the layers written out by hand, the KL of the Bernoulli
        # distributions from torch.distributions on the column means, weight decay by hand.
        W1, b1 = model.encoder[0].weight, model.encoder[0].bias
        W2, b2 = model.decoder[0].weight, model.decoder[0].bias
        z = torch.sigmoid(x @ W1.T + b1)
        x_hat = torch.sigmoid(z @ W2.T + b2)
        Bern = torch.distributions.Bernoulli
        rho_hat = z.sum(dim=0) / len(z)
        kl = torch.distributions.kl_divergence(
            Bern(probs=torch.full_like(rho_hat, rho)), Bern(probs=rho_hat)
        ).sum()
        hand = (
            ((x - x_hat) ** 2).sum(1).mean() + eta * kl + lam * (W1.pow(2).sum() + W2.pow(2).sum())
        )
        # Tolerance: float64, the same sums in another order (and torch.distributions' own
        # KL formula): ~1e-15 relative.
        torch.testing.assert_close(sparse_loss(eta, rho, lam)(model, x), hand, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="eta"):
        sparse_loss(-1.0, rho)


# --------------------------------------------------------------------------- AE7
def test_mask_noise_rate_is_mu():
    x = torch.ones(400, 64)
    for mu in (0.1, 0.3, 0.5):
        x_tilde, keep = mask_noise(
            x, mu, generator=torch.Generator().manual_seed(1), return_mask=True
        )
        rate = 1 - keep.double().mean().item()
        se = math.sqrt(mu * (1 - mu) / x.numel())
        assert abs(rate - mu) < 5 * se, (rate, mu)
        assert torch.equal(x_tilde, keep.float())
    exact = mask_noise(x, 0.25, generator=torch.Generator().manual_seed(2), exact=True)
    assert torch.all((exact == 0).sum(dim=1) == 16)  # exactly mu * d per row


def test_mask_noise_edge_cases_and_reproducibility():
    x = torch.rand(5, 8)
    assert torch.equal(mask_noise(x, 0.0), x)
    assert torch.equal(mask_noise(x, 1.0), torch.zeros_like(x))
    a = mask_noise(x, 0.4, generator=torch.Generator().manual_seed(7))
    b = mask_noise(x, 0.4, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


@pytest.mark.parametrize("exact", [False, True])
def test_denoising_loss_reconstructs_the_clean_input_from_the_masked_one(exact):
    # denoising_loss(mu)(model, x, generator) must be mean_n ||x - g(f(m * x))||^2: the mask
    # m drawn from `generator` (redrawn here from a generator in the same state), the
    # corrupted m * x fed to the model, the CLEAN x as the target.
    mu = 0.4
    x = torch.rand(30, 8, dtype=DT, generator=torch.Generator().manual_seed(3)) + 0.5
    model = Autoencoder([8, 5], output_activation="identity", seed=1, dtype=DT)
    loss = denoising_loss(mu, exact=exact)(model, x, torch.Generator().manual_seed(11))
    keep = mask_noise(
        x, mu, generator=torch.Generator().manual_seed(11), exact=exact, return_mask=True
    )[1]
    with torch.no_grad():
        x_tilde = torch.where(keep, x, torch.zeros_like(x))  # m * x, written out
        W1, b1 = model.encoder[0].weight, model.encoder[0].bias
        W2, b2 = model.decoder[0].weight, model.decoder[0].bias
        out = torch.sigmoid(x_tilde @ W1.T + b1) @ W2.T + b2  # g(f(x_tilde)) by hand
        expected = ((x - out) ** 2).sum(dim=1).mean()
        wrong_target = ((x_tilde - out) ** 2).sum(dim=1).mean()  # reconstructs x_tilde
        out_clean = torch.sigmoid(x @ W1.T + b1) @ W2.T + b2
        no_mask = ((x - out_clean) ** 2).sum(dim=1).mean()  # a plain autoencoder
    assert 0 < (~keep).sum() < keep.numel()  # some entries masked
    # Tolerance: float64, the same arithmetic in another order: ~1e-15 relative.
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-12, atol=0)
    # The two wrong readings differ from it by far more than the tolerance.
    assert abs(wrong_target - expected) > 1e-3 * expected
    assert abs(no_mask - expected) > 1e-3 * expected
    # A fresh mask for every call: the generator's state advances.
    g = torch.Generator().manual_seed(11)
    first, second = (denoising_loss(mu, exact=exact)(model, x, g) for _ in range(2))
    assert first.item() == loss.item() and second.item() != first.item()


@pytest.mark.parametrize("mu", [-0.1, 1.2, float("nan"), None])
def test_mask_noise_rejects_bad_mu(mu):
    with pytest.raises(ValueError, match="mu"):
        mask_noise(torch.ones(2, 2), mu)


# --------------------------------------------------------------------------- training
def test_training_is_reproducible_with_a_seed():
    X = np.random.default_rng(0).uniform(size=(64, 8))
    runs = []
    for seed in (0, 0, 1):
        model = Autoencoder([8, 4], seed=0)
        runs.append(
            train(
                model, X, loss_fn=denoising_loss(0.3), epochs=5, batch_size=16, lr=1e-2, seed=seed
            )
        )
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    assert runs[0].shape == (5,) and runs[0][-1] < runs[0][0]


def test_train_calls_the_callback_after_every_epoch():
    X = np.random.default_rng(0).uniform(size=(32, 4))
    seen = []
    history = train(
        Autoencoder([4, 2]),
        X,
        epochs=3,
        lr=1e-2,
        callback=lambda epoch, model: seen.append((epoch, model.code_dim)),
    )
    assert seen == [(0, 2), (1, 2), (2, 2)] and len(history) == 3


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"lr": -1.0}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"seed": -3}, "seed"),
        ({"loss_fn": "mse"}, "loss_fn"),
        ({"schedule": "cosine"}, "schedule"),
        ({"callback": 3}, "callback"),
    ],
)
def test_train_rejects_bad_arguments(kwargs, name):
    model = Autoencoder([4, 2])
    with pytest.raises(ValueError, match=name):
        train(model, np.zeros((3, 4)), **kwargs)


def test_train_rejects_bad_data():
    model = Autoencoder([4, 2])
    with pytest.raises(ValueError, match=r"X must have shape \(N, 4\)"):
        train(model, np.zeros((3, 5)), epochs=1)
    with pytest.raises(ValueError, match="X"):
        train(model, np.array([[np.nan, 0, 0, 0]]), epochs=1)


def test_pretrain_stacked_equals_the_shallow_autoencoders_layer_by_layer():
    X = np.random.default_rng(0).uniform(size=(50, 8))
    sizes, seed, K = [8, 6, 4, 3], 5, 3
    kw = dict(epochs=3, batch_size=25, lr=1e-2)
    model, histories = pretrain_stacked(sizes, X, seed=seed, output_activation="identity", **kw)
    assert len(histories) == K and model.encoder_sizes == sizes
    # The greedy procedure by hand, as documented: shallow AE k (seed + k + 1) is trained
    # alone on the codes of the shallow encoders below it; only the first reconstructs x
    # (identity output here), the others reconstruct sigmoid codes.
    H, shallow = torch.tensor(X, dtype=torch.float32), []
    for k in range(K):
        ae = Autoencoder(
            sizes[k : k + 2],
            output_activation="identity" if k == 0 else "sigmoid",
            seed=seed + k + 1,
        )
        np.testing.assert_array_equal(train(ae, H, seed=seed + k + 1, **kw), histories[k])
        shallow.append(ae)
        with torch.no_grad():
            H = ae.encode(H)
    # Exact equality: the same float32 operations in the same order on the CPU.
    enc = [m for m in model.encoder if isinstance(m, nn.Linear)]
    dec = [m for m in model.decoder if isinstance(m, nn.Linear)]
    for k, ae in enumerate(shallow):
        for deep, small in ((enc[k], ae.encoder[0]), (dec[K - 1 - k], ae.decoder[0])):
            assert torch.equal(deep.weight, small.weight) and torch.equal(deep.bias, small.bias)
    x = torch.tensor(X, dtype=torch.float32)
    with torch.no_grad():
        h = x
        for k, ae in enumerate(shallow):  # h^(k+1) = f_{k+1}(h^(k))
            h = ae.encode(h)
            assert torch.equal(model.encoder[: 2 * (k + 1)](x), h)
        y = h
        for i, ae in enumerate(reversed(shallow)):  # g_1(g_2(g_3(z)))
            y = ae.decode(y)
            assert torch.equal(model.decoder[: 2 * (i + 1)](h), y)
        assert torch.equal(model(x), y)
    assert isinstance(model.decoder[1], nn.Sigmoid) and isinstance(model.decoder[-1], nn.Identity)


# --------------------------------------------------------------------------- checkers
def test_kl_gradient_checker(capsys):
    ok, out = run(ex.check_kl_gradient, lambda r, q: -r / q + (1 - r) / (1 - q), capsys)
    assert ok and _common.CORRECT in out
    for wrong, hint in [
        (lambda r, q: r / q - (1 - r) / (1 - q), "符号"),
        (lambda r, q: math.log(q / r) - math.log((1 - q) / (1 - r)), "KL(ρ̂‖ρ*)"),
        (lambda r, q: -r / q, "第二项"),
        (lambda r, q: 0.0, ""),
    ]:
        ok, out = run(ex.check_kl_gradient, wrong, capsys)
        assert not ok and hint in out
        assert_no_numbers(out)
    ok, out = run(ex.check_kl_gradient, stub, capsys)
    assert not ok and "尚未实现" in out


def test_masked_zero_fraction_checker(capsys):
    assert run(ex.check_masked_zero_fraction, 0.55, capsys)[0]
    assert run(ex.check_masked_zero_fraction, lambda: 0.4 + 0.6 * 0.25, capsys)[0]
    for wrong in (0.25, 0.65, 0.5, "x"):
        ok, out = run(ex.check_masked_zero_fraction, wrong, capsys)
        assert not ok
        assert_no_numbers(out)
    ok, out = run(ex.check_masked_zero_fraction, ..., capsys)
    assert not ok and "尚未实现" in out


def test_linear_ae_optimum_checker(capsys):
    def right(X, p):
        s = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
        return np.sum(s[p:] ** 2) / len(X)

    def uncentred(X, p):
        s = np.linalg.svd(X, compute_uv=False)
        return np.sum(s[p:] ** 2) / len(X)

    def summed(X, p):
        return right(X, p) * len(X)

    assert run(ex.check_linear_ae_optimum, right, capsys)[0]
    for wrong, hint in [(uncentred, "中心化"), (summed, "批均值"), (lambda X, p: 1.0, "")]:
        ok, out = run(ex.check_linear_ae_optimum, wrong, capsys)
        assert not ok and hint in out
        assert_no_numbers(out)
    ok, out = run(ex.check_linear_ae_optimum, stub, capsys)
    assert not ok and "尚未实现" in out
