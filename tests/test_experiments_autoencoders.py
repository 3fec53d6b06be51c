"""Tests of unsupervised.experiments.autoencoders (its chapter's experiments and figures).

Each function is compared with an independent reference (NumPy, finite differences, a closed
form) or a known value.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from unsupervised.autoencoders import Autoencoder, pretrain_stacked, sparse_loss
from unsupervised.experiments import autoencoders as experiment
from unsupervised.training import fit

RNG = np.random.default_rng(0)
X = RNG.uniform(size=(30, 5))  # 30 samples in [0, 1]^5
X64 = torch.tensor(X)
RHO = 0.1


def _model(p=3, dtype=torch.float64, seed=0):
    return Autoencoder([5, p], seed=seed, dtype=dtype)


def test_module_lists_its_public_functions():
    assert all(callable(getattr(experiment, name)) for name in experiment.__all__)


def test_test_errors_is_the_per_sample_squared_error():
    model = _model()
    W1, b1, W2, b2 = experiment.layer_weights(model)
    sig = lambda a: 1 / (1 + np.exp(-a))
    x_in = X * (RNG.uniform(size=X.shape) > 0.3)
    expected = ((X - sig(sig(x_in @ W1.T + b1) @ W2.T + b2)) ** 2).sum(axis=1)
    got = experiment.test_errors(model, X64, torch.tensor(x_in))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got.shape == (30,)


def test_paired_known_values():
    mean, se = experiment.paired([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert mean == 2.0 and se == pytest.approx(1 / math.sqrt(3))
    with pytest.raises(ValueError, match="b"):
        experiment.paired([1.0, 2.0], [1.0, 2.0, 3.0])


def test_layer_weights_copies_the_parameters():
    model = _model()
    W1, b1, W2, b2 = experiment.layer_weights(model)
    assert np.array_equal(W1, model.encoder[0].weight.detach().numpy()) and W1.shape == (3, 5)
    assert np.array_equal(b2, model.decoder[0].bias.detach().numpy()) and b2.shape == (5,)
    W1[0, 0] += 1.0  # a copy
    assert W1[0, 0] != model.encoder[0].weight[0, 0].item()
    with pytest.raises(ValueError, match="model"):
        experiment.layer_weights(Autoencoder([5, 4, 3]))


def test_linear_ae_runs_reach_the_eckart_young_bound():
    s = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    bound = np.sum(s[2:] ** 2) / len(X)
    runs = experiment.linear_ae_runs(X, 2, seeds=[0, 1], epochs=1500, lr=5e-2)
    assert runs["decoder"].shape == (2, 5, 2) and len(runs["models"]) == 2
    np.testing.assert_allclose(runs["loss"], bound, rtol=1e-6)
    assert np.all(runs["loss"] >= bound * (1 - 1e-12))


def test_linear_ae_at_is_the_projection_with_optimal_biases():
    _, _, Vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    V = Vt[:2].T
    x_bar = X.mean(axis=0)
    ae = experiment.linear_ae_at(V, x_bar)
    with torch.no_grad():
        out = ae(X64).numpy()
    np.testing.assert_allclose(out, (X - x_bar) @ V @ V.T + x_bar, atol=1e-13)
    with pytest.raises(ValueError, match="x_bar"):
        experiment.linear_ae_at(V, x_bar[:3])


def test_loss_and_gradient_value_and_a_stationary_point():
    _, _, Vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    ae = experiment.linear_ae_at(Vt[:2].T, X.mean(axis=0))
    loss, grad = experiment.loss_and_gradient(ae, X64)
    with torch.no_grad():
        expected = ((X - ae(X64).numpy()) ** 2).sum(axis=1).mean()
    assert loss == pytest.approx(expected, rel=1e-12)
    assert grad < 1e-12  # the principal subspace is stationary
    assert experiment.loss_and_gradient(_model(2), X64)[1] > 1e-3


def test_sparse_loss_numpy_matches_the_library():
    model = _model()
    ref = experiment.sparse_loss_numpy(*experiment.layer_weights(model), X, 2.0, RHO, 0.01)
    lib = sparse_loss(2.0, RHO, 0.01)(model, X64).item()
    assert ref["loss"] == pytest.approx(lib, rel=1e-12)
    assert ref["loss"] == pytest.approx(ref["rec"] + 2.0 * ref["kl"] + 0.01 * ref["decay"])


def test_parameter_gradients_match_autograd_grad():
    model = _model()
    loss = sparse_loss(1.0, RHO, 0.01)(model, X64)
    params = [model.encoder[0].weight, model.encoder[0].bias]
    params += [model.decoder[0].weight, model.decoder[0].bias]
    expected = torch.autograd.grad(loss, params, retain_graph=True)
    got = experiment.parameter_gradients(model, loss)
    for a, b in zip(got, expected):
        assert torch.equal(a, b)


def test_penalty_inside_sum_counts_the_penalty_n_times():
    model = _model()
    ref = experiment.sparse_loss_numpy(*experiment.layer_weights(model), X, 2.0, RHO, 0.01)
    n = len(X)
    expected = n * ref["rec"] + n * 2.0 * ref["kl"] + 0.01 * ref["decay"]
    got = experiment.penalty_inside_sum(model, X64, 2.0, RHO, 0.01)
    assert got.item() == pytest.approx(expected, rel=1e-12)
    assert got.requires_grad


def test_bias_push_matches_step_5_and_the_clamp_gives_nothing_below_the_floor():
    W = torch.tensor(RNG.normal(size=(4, 5)))
    b = torch.tensor([-2.0, -5.0, -25.0, -30.0], dtype=torch.float64)
    out = experiment.bias_push(X64, W, b, RHO, 1e-6)
    r, m = out["rho_hat"], out["m"]
    z = 1 / (1 + np.exp(-(X @ W.numpy().T + b.numpy())))
    np.testing.assert_allclose(r, z.mean(axis=0), rtol=1e-12)
    exact = r >= 1e-6
    assert exact.sum() >= 1 and (~exact).sum() >= 1
    step5 = -(r - RHO) / (r * (1 - r)) * m
    np.testing.assert_allclose(out["push"][exact], step5[exact], rtol=1e-9)
    assert np.all(np.sign(out["push"]) == np.sign(RHO - r))  # toward rho*
    assert np.all(out["push_clamp"][~exact] == 0)
    np.testing.assert_allclose(out["push_clamp"][exact], step5[exact], rtol=1e-9)


def test_bias_push_uses_its_floor_for_the_library_too():
    W = torch.tensor(0.1 * np.random.default_rng(5).normal(size=(3, 5)))
    b = torch.tensor([-8.0, -10.0, -12.0], dtype=torch.float64)  # rho_hat ~ 3e-4 .. 6e-6
    out = experiment.bias_push(X64, W, b, RHO, 1e-3)
    r, m = out["rho_hat"], out["m"]
    assert np.all(r < 1e-3)
    slope = (1e-3 - RHO) / (1e-3 * (1 - 1e-3))  # KL'(floor): the tangent below the floor
    np.testing.assert_allclose(out["push"], -slope * m, rtol=1e-9)
    assert np.all(out["push_clamp"] == 0)


def test_argument_checks_name_the_argument():
    w = experiment.layer_weights(_model())
    with pytest.raises(ValueError, match="x must have 5 columns"):
        experiment.sparse_loss_numpy(*w, X[:, :4], 1.0, RHO, 0.0)
    with pytest.raises(ValueError, match="W2"):
        experiment.sparse_loss_numpy(w[0], w[1], w[2][:, :2], w[3], X, 1.0, RHO, 0.0)
    with pytest.raises(ValueError, match="inputs"):
        experiment.test_errors(_model(), X64, X64[:3])
    with pytest.raises(ValueError, match="W must"):
        experiment.bias_push(X64, torch.ones(2, 4, dtype=torch.float64), torch.zeros(2), RHO)
    with pytest.raises(ValueError, match="biases"):
        experiment.bias_push(X64, torch.ones(2, 5, dtype=torch.float64), torch.zeros(3), RHO)
    with pytest.raises(ValueError, match="shallow"):
        experiment.stacked_pairs(Autoencoder([5, 4]), [1], X64.float())
    with pytest.raises(ValueError, match="X must have"):
        experiment.pretrain_by_hand([4, 3], X64.float(), 1)
    with pytest.raises(ValueError, match="rho_star"):
        experiment.dense_and_sparse_codes(400, 2, 5e-4, torch.Generator())
    with pytest.raises(ValueError, match="frac"):
        experiment.top_share(np.ones(10), frac=0.01)


def test_per_sample_penalty_closed_form():
    z = RNG.uniform(0.01, 0.99, size=(6, 3))
    expected = np.mean(
        np.sum(RHO * np.log(RHO / z) + (1 - RHO) * np.log((1 - RHO) / (1 - z)), axis=1)
    )
    assert experiment.per_sample_penalty(z, RHO).item() == pytest.approx(expected, rel=1e-12)


def test_gradient_of_first_row():
    batch = torch.tensor(RNG.normal(size=(4, 3)))
    grad = experiment.gradient_of_first(lambda b: (b**2).sum(), batch)
    assert torch.allclose(grad, 2 * batch[0])


def test_dense_and_sparse_codes_have_mean_rho():
    dense, sparse = experiment.dense_and_sparse_codes(
        400, 3, 0.05, torch.Generator().manual_seed(0)
    )
    assert torch.all(dense == 0.05)
    np.testing.assert_allclose(sparse.mean(dim=0).numpy(), 0.05, rtol=1e-12)
    on = round(400 * 0.049 / 0.998)
    assert torch.all((sparse > 0.5).sum(dim=0) == on)


def test_train_sparse_returns_the_trained_models_activations():
    X32 = torch.tensor(X, dtype=torch.float32)
    out = experiment.train_sparse(X32, [0.0, 2.0], RHO, 0.01, p=4, epochs=3)
    direct = Autoencoder([5, 4], seed=0)
    expected = fit(direct, X32, sparse_loss(2.0, RHO, 0.01), epochs=3, lr=3e-2, seed=0)
    np.testing.assert_array_equal(out["history"][2.0]["loss"], expected["loss"])
    assert torch.equal(out["models"][2.0].encoder[0].weight, direct.encoder[0].weight)
    assert set(out["models"]) == {0.0, 2.0} and len(out["history"][2.0]["loss"]) == 3
    with torch.no_grad():
        z = out["models"][2.0].encode(torch.tensor(X, dtype=torch.float32))
    np.testing.assert_allclose(out["rho_hat"][2.0], z.mean(dim=0).numpy(), rtol=1e-6)
    assert out["rho_hat"][2.0].shape == (4,)


def test_top_share_known_values():
    one_hot = np.zeros(20)
    one_hot[3] = 1.0
    assert experiment.top_share(one_hot) == 1.0
    assert experiment.top_share(np.ones((10, 10))) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="codes"):
        experiment.top_share(np.zeros(5))


def test_near_identity_is_close_to_the_identity():
    ae = experiment.near_identity(1e-3, 5, RHO)
    with torch.no_grad():
        z = ae.encode(X64)
        out = ae.decode(z)
    np.testing.assert_allclose(z.numpy(), 1 / (1 + np.exp(-(1e-3 * X + np.log(RHO / (1 - RHO))))))
    np.testing.assert_allclose(out.numpy(), X, atol=1e-3)


def test_near_identity_terms_closed_forms():
    eps = np.array([1e-1, 1e-3])
    terms = experiment.near_identity_terms(X64, eps, RHO)
    np.testing.assert_allclose(
        terms["decay"], 5 * eps**2 + 5 / (eps**2 * RHO**2 * (1 - RHO) ** 2), rtol=1e-12
    )
    rec_lead = eps**2 * (1 - 2 * RHO) ** 2 / 4 * (X**4).sum(axis=1).mean()
    assert terms["rec"][-1] == pytest.approx(rec_lead[-1], rel=1e-2)
    with pytest.raises(ValueError, match="eps"):
        experiment.near_identity_terms(X64, np.array([0.0]), RHO)


def test_minibatch_penalties_b1_and_the_full_batch():
    z = torch.tensor(RNG.uniform(0.01, 0.5, size=(12, 3)))
    rows = experiment.minibatch_penalties(z, RHO, sizes=[12], draws=3)
    zn = z.numpy()
    per_row = np.sum(RHO * np.log(RHO / zn) + (1 - RHO) * np.log((1 - RHO) / (1 - zn)), axis=1)
    assert rows.shape == (2, 3) and rows[0, 0] == 1 and rows[0, 2] == 0
    assert rows[0, 1] == pytest.approx(per_row.mean(), rel=1e-12)
    r = zn.mean(axis=0)
    full = np.sum(RHO * np.log(RHO / r) + (1 - RHO) * np.log((1 - RHO) / (1 - r)))
    assert rows[1, 1] == pytest.approx(full, rel=1e-12) and rows[1, 2] < 1e-12
    with pytest.raises(ValueError, match="sizes"):
        experiment.minibatch_penalties(z, RHO, sizes=[13])


def test_pretrain_by_hand_and_stacked_pairs_reproduce_pretrain_stacked():
    Xf = torch.tensor(X, dtype=torch.float32)
    stacked, hists = pretrain_stacked([5, 4, 2], Xf, epochs=3, seed=0, batch_size=None, lr=3e-2)
    aes, hists_hand = experiment.pretrain_by_hand([5, 4, 2], Xf, epochs=3, lr=3e-2)
    assert all(np.array_equal(a["loss"], b["loss"]) for a, b in zip(hists, hists_hand))
    pairs = experiment.stacked_pairs(stacked, aes, Xf)
    assert len(pairs) == 4 * 2 + 2 + 2 + 1
    assert all(torch.equal(a, b) for _, a, b in pairs)
    with pytest.raises(ValueError, match="shallow"):
        experiment.stacked_pairs(stacked, aes[:1], Xf)


def test_stacked_pairs_detect_a_different_model():
    Xf = torch.tensor(X, dtype=torch.float32)
    aes, _ = experiment.pretrain_by_hand([5, 4, 2], Xf, epochs=2)
    other = Autoencoder([5, 4, 2], seed=7)
    assert not all(torch.equal(a, b) for _, a, b in experiment.stacked_pairs(other, aes, Xf))


def test_stacked_pairs_are_a_snapshot():
    Xf = torch.tensor(X, dtype=torch.float32)
    stacked, _ = pretrain_stacked([5, 4, 2], Xf, epochs=2, seed=0, batch_size=None, lr=3e-2)
    aes, _ = experiment.pretrain_by_hand([5, 4, 2], Xf, epochs=2, lr=3e-2)
    before = stacked.encoder[0].weight.detach().clone()
    pairs = experiment.stacked_pairs(stacked, aes, Xf)
    with torch.no_grad():
        stacked.encoder[0].weight.add_(1.0)
    assert pairs[0][0] == "f1.weight" and torch.equal(pairs[0][1], before)  # not the changed one


def test_figure_labels_follow_their_arguments():
    r = np.array([0.01, 0.02])
    fig = experiment.plot_sparsity({float(e): r for e in range(6)}, np.outer(r, r), 0.05)
    assert len(fig.axes[0].get_legend().get_texts()) == 6 + 1  # six etas and rho*
    plt.close(fig)
    digits = Autoencoder([64, 8], seed=0)
    X64d = torch.rand(10, 64)
    curves = {"one": np.array([1.0, 2.0])}
    fig = experiment.plot_denoising(X64d, X64d, {"one": digits}, [0.0, 0.5], curves, 0.3)
    assert fig.axes[0].get_title().endswith("outputs of: one")
    plt.close(fig)


def test_first_layer_grad_matches_autograd():
    model = Autoencoder([5, 4, 2], seed=0, dtype=torch.float64)
    loss = ((X64 - model(X64)) ** 2).sum(dim=1).mean()
    (g,) = torch.autograd.grad(loss, [model.encoder[0].weight])
    assert experiment.first_layer_grad(model, X64) == pytest.approx(g.norm().item(), rel=1e-12)


def test_masking_rates_with_zeros_in_the_data():
    x = torch.tensor(RNG.uniform(size=(200, 8)) * (RNG.uniform(size=(200, 8)) < 0.5))
    rates, zero_frac = experiment.masking_rates(
        x, np.array([0.5]), torch.Generator().manual_seed(3)
    )
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(3), dtype=x.dtype)
    keep = u >= 0.5
    assert rates[0] == pytest.approx(1 - keep.double().mean().item(), abs=1e-15)
    x_tilde = x * keep
    assert zero_frac[0] == pytest.approx((x_tilde == 0).double().mean().item(), abs=1e-15)
    assert zero_frac[0] > rates[0] + 0.1  # the zeros of the data count too


def test_masking_rates_at_the_ends():
    zeros = (X64 == 0).double().mean().item()
    rates, zero_frac = experiment.masking_rates(X64, np.array([0.0, 1.0]), torch.Generator())
    np.testing.assert_array_equal(rates, [0.0, 1.0])
    np.testing.assert_allclose(zero_frac, [zeros, 1.0])
    with pytest.raises(ValueError, match="mus"):
        experiment.masking_rates(X64, np.array([1.5]), torch.Generator())


def test_error_curves_at_mu_zero_is_the_clean_error():
    model = _model()
    curves = experiment.error_curves({"m": model}, X64, np.array([0.0, 0.5]))
    assert curves["m"][0] == pytest.approx(experiment.test_errors(model, X64).mean(), rel=1e-12)
    assert curves["m"][1] > curves["m"][0]
    with pytest.raises(ValueError, match="models"):
        experiment.error_curves({}, X64, np.array([0.0]))


def test_crossing_known_values():
    assert experiment.crossing([0.0, 1.0, 2.0], [-1.0, 1.0, 3.0]) == (0.5, 1)
    assert experiment.crossing([0.0, 1.0], [2.0, 3.0]) == (0.0, 0)
    with pytest.raises(ValueError, match="gap"):
        experiment.crossing([0.0, 1.0], [-1.0, -2.0])


def test_figures_return_figures():
    hist = {"epoch": np.arange(1, 4), "loss": np.array([3.0, 2.0, 1.0])}
    r = np.array([1e-8, 1e-3, 0.02])
    figs = [
        experiment.plot_kl_penalty(0.05, r, r, r, 1e-6),
        experiment.plot_sparsity({0.0: r, 3.0: r}, np.outer(r, r), 0.05),
        experiment.plot_stacked(hist, hist, 2.0),
    ]
    digits = Autoencoder([64, 8], seed=0)
    X64d = torch.rand(10, 64)
    figs.append(experiment.plot_training(hist, 2.0, digits, X64d))
    figs.append(experiment.plot_encoder_rows({0.0: digits}))
    figs.append(experiment.plot_pca_directions(np.eye(64)[:, :3], np.ones((64, 3))))
    curves = {"a": np.array([1.0, 2.0]), "b": np.array([1.5, 1.8])}
    figs.append(experiment.plot_denoising(X64d, X64d * 0, {"a": digits}, [0.0, 0.5], curves, 0.3))
    for fig in figs:
        assert isinstance(fig, matplotlib.figure.Figure) and fig.axes
        plt.close(fig)
