"""Tests of unsupervised.autoencoders (formulas AE1-AE7) and of the chapter's exercise checkers."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from torch import nn

from helpers import assert_no_numbers, run, stub, torch_generator
from unsupervised import _validation
from unsupervised.autoencoders import (
    Autoencoder,
    average_activation,
    bernoulli_kl,
    denoising_loss,
    kl_sparsity,
    mask_noise,
    plain_loss,
    pretrain_stacked,
    principal_angles,
    reconstruction_loss,
    sparse_loss,
)
from unsupervised.exercises import _common
from unsupervised.exercises import autoencoders as ex
from unsupervised.training import fit

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
    # The convention (_torch.py): drawn in float64, then cast, so a float32 and a float64
    # model of the same seed start from the same values up to float32 rounding.
    d = Autoencoder([8, 4], seed=3, dtype=DT)
    for pa, pd in zip(a.parameters(), d.parameters()):
        assert pa.dtype == torch.float32 and pd.dtype == DT and torch.equal(pa, pd.float())
    default, zero = Autoencoder([8, 4]), Autoencoder([8, 4], seed=0)  # the default seed is 0
    assert torch.equal(default.encoder[0].weight, zero.encoder[0].weight)


def test_initialisation_is_uniform_on_the_documented_range():
    # U(-1/sqrt(in), 1/sqrt(in)) for every weight and bias (nn.Linear's default), tested
    # against SciPy's uniform distribution: 120000 weights and 300 biases of one layer.
    # The draws are fixed by the seed, so the p-values are fixed numbers, not a flaky test.
    model = Autoencoder([400, 300], seed=0, dtype=DT)
    for layer in (model.encoder[0], model.decoder[0]):
        bound = 1 / math.sqrt(layer.in_features)
        for values in (layer.weight, layer.bias):
            v = values.detach().numpy().ravel()
            assert np.abs(v).max() <= bound
            assert stats.kstest(v, stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3


def test_activations_are_placed_as_documented():
    model = Autoencoder([5, 4, 3], activation="tanh", output_activation="identity")
    kinds = lambda seq: [type(m) for m in seq]
    assert kinds(model.encoder) == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh]  # code is tanh
    assert kinds(model.decoder) == [nn.Linear, nn.Tanh, nn.Linear, nn.Identity]
    custom = Autoencoder([5, 3], [3, 6, 5], activation="relu")
    assert kinds(custom.decoder) == [nn.Linear, nn.ReLU, nn.Linear, nn.Sigmoid]
    assert [tuple(w.shape) for w in custom.weights()] == [(3, 5), (6, 3), (5, 6)]


def test_autoencoder_rejects_a_decoder_that_does_not_fit_the_encoder():
    # Cross-argument checks (the policy table, tests/validation_cases.py, covers the rest).
    for decoder_sizes in ([4, 7], [3, 8], [8, 4]):
        with pytest.raises(ValueError, match="decoder_sizes"):
            Autoencoder([8, 4], decoder_sizes=decoder_sizes)
    model = Autoencoder([8, 4])
    for method, name, width in ((model.encode, "x", 8), (model.forward, "x", 8)):
        with pytest.raises(ValueError, match=rf"{name} must have shape \(N, {width}\)"):
            method(torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"z must have shape \(N, 4\)"):
        model.decode(torch.zeros(3, 8))


def test_float64_input_and_input_that_requires_grad_reach_a_float32_model():
    model = Autoencoder([4, 3], seed=1)  # float32
    x64 = torch.rand(5, 4, dtype=DT, generator=torch_generator(0), requires_grad=True)
    out = model(x64)
    assert out.dtype == torch.float32
    with torch.no_grad():  # the same as casting by hand first (and as a NumPy array)
        expected = model.decoder(model.encoder(x64.detach().float()))
        torch.testing.assert_close(out.detach(), expected, rtol=0, atol=0)
        torch.testing.assert_close(model(x64.detach().numpy()), expected, rtol=0, atol=0)
        torch.testing.assert_close(model.encode(x64.detach().tolist()), model.encoder(x64.float()))
    out.sum().backward()  # the cast is differentiable: the gradient reaches x, in float64
    assert x64.grad is not None and x64.grad.dtype == DT and torch.isfinite(x64.grad).all()


# --------------------------------------------------------------------------- AE2
def test_reconstruction_loss_hand_value_and_sum_form():
    x = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]], dtype=DT)
    x_hat = torch.tensor([[0.5, 0.0, 2.0], [1.0, 1.0, -1.0]], dtype=DT)
    # per-sample squared errors: 0.25 and 1 + 4 = 5; mean 2.625
    assert reconstruction_loss(x, x_hat).item() == pytest.approx(2.625, abs=1e-15)
    assert (len(x) * reconstruction_loss(x, x_hat)).item() == pytest.approx(5.25, abs=1e-15)


def test_reconstruction_loss_needs_x_hat_of_the_shape_of_x():
    x = torch.zeros(3, 2)
    for x_hat in (torch.zeros(3, 3), torch.zeros(2, 2)):
        with pytest.raises(ValueError, match="x_hat must have the shape of x"):
            reconstruction_loss(x, x_hat)


def test_linear_autoencoder_spans_the_principal_subspace():
    # Baldi & Hornik (1989): the decoder's column space is the top-p right singular subspace
    # of the centred data, and the loss reaches the Eckart-Young minimum.
    X, p = small_data(), 2
    _, s, Vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    model = Autoencoder([6, p], activation="identity", output_activation="identity", dtype=DT)
    fit(model, X, plain_loss(), epochs=1500, lr=0.05, seed=0, schedule="anneal")
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


def test_principal_angles_needs_the_same_number_of_rows():
    with pytest.raises(ValueError, match="same number of rows"):
        principal_angles(np.ones((3, 1)), np.ones((4, 1)))


def test_principal_angles_reads_a_decoder_weight_that_requires_grad():
    W2 = Autoencoder([5, 2], seed=0).decoder[0].weight  # a Parameter: requires grad
    assert W2.requires_grad
    np.testing.assert_allclose(
        principal_angles(W2, W2.detach().double().numpy() @ [[1.0, 2.0], [0.0, 1.0]]),
        [0.0, 0.0],
        atol=1e-6,
    )


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
    # A NumPy array is read as a float64 tensor (bad inputs: the policy table).
    torch.testing.assert_close(average_activation(Z), torch.tensor(Z).mean(dim=0), rtol=0, atol=0)


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


def test_kl_sparsity_needs_a_floor_below_rho_star_and_its_complement():
    # floor < min(rho*, 1 - rho*), a check across two arguments; floors outside (0, 1/2)
    # are in the policy table.
    z = torch.full((2, 2), 0.5)
    for rho_star, floor in ((0.05, 0.05), (0.05, 0.2), (0.9, 0.1), (0.9, 0.3)):
        with pytest.raises(ValueError, match="floor"):
            kl_sparsity(z, rho_star, floor=floor)
    assert torch.isfinite(kl_sparsity(z, 0.9, floor=0.099))


def test_kl_sparsity_and_bernoulli_kl_need_values_in_the_unit_interval():
    for z in ([[-0.5, 0.2]], [[1.5, 0.2]]):  # tanh codes, relu codes
        with pytest.raises(ValueError, match="z must hold activations in"):
            kl_sparsity(torch.tensor(z), 0.1)
    for q in (0.0, 1.0, -0.2, 1.2):  # the open interval: no floor in bernoulli_kl
        with pytest.raises(ValueError, match="rho_hat"):
            bernoulli_kl(0.1, torch.tensor([0.3, q]))
    # A NumPy array, a 0-d tensor and a float32 tensor are read as rho_hat too.
    reference = 0.1 * math.log(0.1 / 0.3) + 0.9 * math.log(0.9 / 0.7)
    for q in (np.array([0.3]), torch.tensor(0.3, dtype=DT), torch.tensor([0.3])):
        assert bernoulli_kl(0.1, q).item() == pytest.approx(reference, rel=1e-6)


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
        # each term alone, and none: the plain loss
        rec = ((x - x_hat) ** 2).sum(1).mean()
        torch.testing.assert_close(
            sparse_loss(eta, rho)(model, x), rec + eta * kl, rtol=1e-12, atol=0
        )
        torch.testing.assert_close(
            sparse_loss(0.0, rho, lam)(model, x), hand - eta * kl, rtol=1e-12, atol=0
        )
        torch.testing.assert_close(sparse_loss(0.0, rho)(model, x), rec, rtol=1e-12, atol=0)
        torch.testing.assert_close(plain_loss()(model, x), rec, rtol=1e-12, atol=0)


def test_training_losses_check_the_model_and_the_batch_shape_only():
    # The losses fit calls on every batch check only what costs no device synchronisation
    # (the model's type, the batch's shape); the policy's checks (finiteness) are not run.
    model = Autoencoder([4, 3], seed=0)
    losses = (plain_loss(), sparse_loss(1.0, 0.05, 1e-3), denoising_loss(0.2, exact=True))
    for loss in losses:
        with pytest.raises(ValueError, match=r"data \(here a batch\) must have shape \(N, 4\)"):
            loss(model, torch.zeros(5, 3), torch_generator(0))
        with pytest.raises(ValueError, match="model must be an Autoencoder"):
            loss(nn.Linear(4, 4), torch.zeros(5, 4), torch_generator(0))
    with pytest.raises(ValueError, match="data"):  # ... and so through fit
        fit(model, np.zeros((6, 5)), plain_loss(), epochs=1)
    with pytest.raises(ValueError, match="activation='sigmoid'"):
        sparse_loss(1.0, 0.05)(Autoencoder([4, 3], activation="relu"), torch.zeros(5, 4))
    sparse_loss(0.0, 0.05, 1e-3)(Autoencoder([4, 3], activation="relu"), torch.zeros(5, 4))


def test_training_losses_do_not_validate(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a per-step training loss ran the validation policy")

    model = Autoencoder([4, 3], seed=0)
    x = torch.rand(5, 4, dtype=DT, generator=torch_generator(0))  # cast to the model's float32
    monkeypatch.setattr(_validation.Tensor, "check", refuse)
    monkeypatch.setattr(_validation.Array, "check", refuse)
    with pytest.raises(AssertionError, match="validation policy"):  # the patch bites ...
        model(x)
    for loss in (plain_loss(), sparse_loss(1.0, 0.05, 1e-3), denoising_loss(0.2)):
        value = loss(model, x, torch_generator(1))  # ... but not here
        assert value.dtype == torch.float32
        value.backward()


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


def test_mask_noise_reads_arrays_and_numpy_numbers():
    x = np.random.default_rng(0).uniform(0.5, 1.0, size=(40, 10))  # no zeros of its own
    x_tilde, keep = mask_noise(x, np.float32(0.3), torch_generator(3), return_mask=True)
    assert x_tilde.dtype == DT and torch.equal(x_tilde == 0, ~keep)
    torch.testing.assert_close(x_tilde[keep], torch.tensor(x)[keep], rtol=0, atol=0)
    x32 = torch.tensor(x, dtype=torch.float32)
    assert mask_noise(x32, 0.3, torch_generator(3)).dtype == torch.float32


# --------------------------------------------------------------------------- training
def test_denoising_run_is_a_function_of_fits_seed():
    # The mask comes from the generator fit hands the loss (seeded seed + 1), so two runs
    # with one seed are equal and another seed gives another run.
    X = np.random.default_rng(0).uniform(size=(64, 8))
    runs = []
    for seed in (0, 0, 1):
        model = Autoencoder([8, 4], seed=0)
        runs.append(fit(model, X, denoising_loss(0.3), epochs=5, batch_size=16, lr=1e-2, seed=seed))
    np.testing.assert_array_equal(runs[0]["loss"], runs[1]["loss"])
    assert not np.array_equal(runs[0]["loss"], runs[2]["loss"])
    assert runs[0]["loss"].shape == (5,) and runs[0]["loss"][-1] < runs[0]["loss"][0]
    # With mu = 0 the mask keeps everything: the denoising run is the plain run.
    plain, masked = Autoencoder([8, 4], seed=0), Autoencoder([8, 4], seed=0)
    h_plain = fit(plain, X, plain_loss(), epochs=3, batch_size=16, lr=1e-2, seed=2)
    h_masked = fit(masked, X, denoising_loss(0.0), epochs=3, batch_size=16, lr=1e-2, seed=2)
    np.testing.assert_array_equal(h_plain["loss"], h_masked["loss"])


def test_denoising_loss_draws_its_mask_from_the_generator_fit_seeds():
    # One full-batch epoch by hand: fit's losses' generator is torch.Generator seeded
    # seed + 1 (training.py); the mask of the first batch is the first draw from it.
    X = torch.rand(20, 6, dtype=DT, generator=torch_generator(5))
    model, by_hand = Autoencoder([6, 3], seed=2, dtype=DT), Autoencoder([6, 3], seed=2, dtype=DT)
    history = fit(model, X, denoising_loss(0.4), epochs=1, lr=1e-2, seed=7)
    x_tilde = mask_noise(X, 0.4, torch_generator(8))
    expected = ((X - by_hand(x_tilde)) ** 2).sum(dim=1).mean().item()
    assert history["loss"][0] == pytest.approx(expected, rel=1e-12)


def test_pretrain_stacked_equals_the_shallow_autoencoders_layer_by_layer():
    X = np.random.default_rng(0).uniform(size=(50, 8))
    sizes, seed, K = [8, 6, 4, 3], 5, 3
    kw = dict(epochs=3, batch_size=25, lr=1e-2)
    model, histories = pretrain_stacked(sizes, X, seed=seed, output_activation="identity", **kw)
    assert len(histories) == K and model.encoder_sizes == sizes
    assert all(np.array_equal(h["epoch"], [1, 2, 3]) for h in histories)
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
        history = fit(ae, H, plain_loss(), seed=seed + k + 1, **kw)
        np.testing.assert_array_equal(history["loss"], histories[k]["loss"])
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


def test_pretrain_stacked_passes_its_loss_to_every_layer_and_checks_the_width_of_X():
    X = np.random.default_rng(1).uniform(size=(30, 6))
    calls = []

    def counting_loss(model, batch, generator):
        calls.append(model.encoder_sizes)
        return plain_loss()(model, batch, generator)

    _, histories = pretrain_stacked([6, 4, 2], X, counting_loss, epochs=2, seed=0)
    assert calls == [[6, 4]] * 2 + [[4, 2]] * 2  # full batch: one call per epoch and layer
    _, default = pretrain_stacked([6, 4, 2], X, epochs=2, seed=0)
    for a, b in zip(histories, default):
        np.testing.assert_array_equal(a["loss"], b["loss"])
    with pytest.raises(ValueError, match=r"X must have shape \(N, 5\)"):
        pretrain_stacked([5, 3], X, epochs=1)


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


def test_checkers_read_tensors_that_require_grad_and_never_raise(capsys):
    # The checkers' contract (exercises/_common.py): a learner's torch tensor is an answer
    # like a float, also when it requires grad, and nothing a learner returns makes them
    # raise.
    grad = dict(dtype=DT, requires_grad=True)

    def kl_grad(r, q):
        return torch.tensor(-r / q + (1 - r) / (1 - q), **grad)

    def linear_optimum(X, p):
        s = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
        return torch.tensor(np.sum(s[p:] ** 2) / len(X), **grad)

    assert run(ex.check_kl_gradient, kl_grad, capsys)[0]
    assert run(ex.check_linear_ae_optimum, linear_optimum, capsys)[0]
    assert run(ex.check_masked_zero_fraction, torch.tensor(0.55, **grad), capsys)[0]
    assert run(ex.check_masked_zero_fraction, lambda: torch.tensor([0.55], **grad), capsys)[0]

    def returns_itself():
        return returns_itself

    for answer in (10**400, returns_itself, torch.ones(3, **grad), object(), [0.5, 0.5]):
        ok, out = run(ex.check_masked_zero_fraction, answer, capsys)
        assert not ok and "还不对" in out
    for wrong in (lambda *a: 10**400, lambda *a: torch.ones(3, **grad), lambda *a: object()):
        for checker in (ex.check_kl_gradient, ex.check_linear_ae_optimum):
            ok, out = run(checker, wrong, capsys)
            assert not ok and "还不对" in out


def test_plain_loss_is_a_factory_and_says_so_when_passed_uncalled():
    model, X = Autoencoder([4, 3], seed=0), np.random.default_rng(0).uniform(size=(8, 4))
    with pytest.raises(ValueError, match=r"loss_fn must be callable as loss_fn\(model, batch"):
        fit(model, X, plain_loss, epochs=1)
    history = fit(model, X, plain_loss(), epochs=1, lr=1e-2)
    assert history["loss"][0] == pytest.approx(
        ((X - Autoencoder([4, 3], seed=0)(X).detach().double().numpy()) ** 2).sum(1).mean(),
        rel=1e-6,
    )


def test_inputs_that_overflow_the_models_dtype_are_refused_not_turned_into_nan():
    # Finite float64 input, but 1e300 is inf in float32 and inf - inf is NaN: the public
    # methods refuse it instead of returning NaN (a float64 model computes with it).
    model, huge = Autoencoder([4, 3], seed=0), np.full((2, 4), 1e300)
    for method, name in ((model.encode, "x"), (model.forward, "x"), (model.decode, "z")):
        with pytest.raises(ValueError, match=rf"{name} gives a model output that is not finite"):
            method(huge[:, : 3 if name == "z" else 4])
    assert torch.isfinite(Autoencoder([4, 3], seed=0, dtype=DT).encode(np.full((2, 4), 1e30))).all()
    with pytest.raises(ValueError, match="x_hat is so far from x"):
        reconstruction_loss(np.full((2, 2), 1e200), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="X has entries too large"):
        pretrain_stacked([4, 3], huge, epochs=1)
