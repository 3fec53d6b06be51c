"""Tests of unsupervised.experiments.gan (its chapter's experiments and figures)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from scipy import integrate, stats
from scipy.special import expit, log_expit

from unsupervised.experiments import gan as experiment
from unsupervised.gan import DCGANGenerator


def test_module_lists_its_public_functions():
    assert all(callable(getattr(experiment, name)) for name in experiment.__all__)


def test_layer_table_shapes_and_parameter_counts():
    G = DCGANGenerator(latent_dim=4, image_size=16, channels=1, width=8, seed=0).eval()
    rows = experiment.layer_table(G, torch.randn(2, 4))
    convs = [r for r in rows if r[1].startswith("ConvTranspose2d")]
    # 1 -> 4 -> 8 -> 16 with 8 * 2 ... channels: (n - 1) s - 2 p + k
    assert [r[2] for r in convs] == ["4x4x16", "8x8x8", "16x16x1"]
    assert sum(r[3] for r in rows) == sum(p.numel() for p in G.parameters())
    assert convs[0][1] == "ConvTranspose2d(4->16, k=4, s=1, p=0)"


def test_pixel_gaps_by_hand():
    data = np.zeros((2, 2, 2))
    before = np.ones((2, 2, 2))  # mean gap 1, ink gap 1, std gap 0, mean image gap 2
    out = experiment.pixel_gaps(before, data.copy(), data)
    np.testing.assert_allclose(out["before"], [1, 1, 0, 2])
    np.testing.assert_allclose(out["after"], 0)
    assert out["closed"][0] == 1 and out["closed"][3] == 1


def test_pixel_gaps_against_numpy_on_varied_images():
    rng = np.random.default_rng(0)
    data, before, after = (
        rng.normal(size=(3, 5, 4, 4)) * np.array([1.0, 3.0, 0.5])[:, None, None, None]
    )
    out = experiment.pixel_gaps(before, after, data)
    for S, gaps in ((before, out["before"]), (after, out["after"])):
        ref = [
            abs(np.mean(S) - np.mean(data)),
            abs(np.mean(S > 0) - np.mean(data > 0)),
            abs(np.std(S) - np.std(data)),
            math.sqrt(((np.mean(S, 0) - np.mean(data, 0)) ** 2).sum()),
        ]
        np.testing.assert_allclose(gaps, ref, rtol=1e-12)
    np.testing.assert_allclose(out["closed"], 1 - out["after"] / out["before"])
    with pytest.raises(ValueError, match="before"):
        experiment.pixel_gaps(before[:, :3], after, data)


def test_arc_holding_counts_the_samples_exactly():
    ang = np.radians(np.arange(10.0))  # 0, 1, ..., 9 degrees: 9 of them span 8 degrees
    S = np.stack([np.cos(ang), np.sin(ang)], 1)
    assert experiment.arc_holding(S, frac=0.9) == pytest.approx(8.0, abs=1e-9)
    assert experiment.arc_holding(S, frac=1.0) == pytest.approx(9.0, abs=1e-9)


def _hand_run(tops, modes, hq, last, dfake):
    steps = np.array([0, 1000, 2000, 3000])
    snaps = np.zeros((4, 10, 2))
    snaps[-1] = last
    hist = {"snapshot_steps": steps, "snapshots": snaps, "d_of_fake": np.asarray(dfake)}
    return dict(
        hist=hist,
        modes=np.asarray(modes, float),
        hq=np.asarray(hq, float),
        tops=np.asarray(tops, float),
        top=tops[-1],
    )


def test_ring_summary_on_hand_built_runs():
    ang = np.radians(np.arange(10.0))
    narrow = np.stack([np.cos(ang), np.sin(ang)], 1)  # 90 % in 8 degrees
    wide = np.stack([np.cos(4 * ang), np.sin(4 * ang)], 1)  # 90 % in 32 degrees
    runs = {
        ("A", 0): _hand_run(
            [1.0, 0.9, 0.6, 0.8], [8, 1, 2, 3], [0.1, 0.2, 0.3, 0.4], narrow, [0.5, 0.4]
        ),
        ("A", 1): _hand_run(
            [1.0, 1.0, 0.2, 0.3], [8, 2, 6, 4], [0.5, 0.5, 0.5, 0.6], wide, [0.3, 0.2]
        ),
        ("B", 0): _hand_run(
            [0.1, 0.1, 0.4, 0.4], [0, 1, 8, 7], [0.0, 0.1, 0.9, 0.8], wide, [0.1, 0.6]
        ),
    }
    s = experiment.ring_summary(runs, after=1500, collapsed_above=0.5)
    assert list(s) == ["A", "B"]
    # snapshots at steps >= 1500 are the last two
    np.testing.assert_allclose(s["A"]["avgtop"], [70.0, 25.0])
    np.testing.assert_allclose(s["A"]["avg"], [2.5, 5.0])
    np.testing.assert_array_equal(s["A"]["collapsed"], [True, False])
    np.testing.assert_array_equal(s["B"]["collapsed"], [False])
    np.testing.assert_allclose(s["A"]["modes"], [3, 4])
    np.testing.assert_allclose(s["A"]["hq"], [40.0, 60.0])
    np.testing.assert_allclose(s["A"]["top"], [80.0, 30.0])
    np.testing.assert_allclose(s["A"]["arc"], [8.0, 32.0], atol=1e-9)
    np.testing.assert_allclose(s["A"]["dfake"], [[0.5, 0.4], [0.3, 0.2]])
    np.testing.assert_allclose(s["B"]["avgtop"], [40.0])


def test_top_share_and_arc_holding():
    centers = np.array([[1.0, 0.0], [-1.0, 0.0]])
    S = np.array([[0.9, 0.0], [1.1, 0.1], [0.8, -0.1], [-1.0, 0.0]])
    assert experiment.top_share(S, centers) == 0.75
    ang = np.linspace(0, np.pi / 2, 1001)  # a quarter circle: 90 % of it spans 81 degrees
    arc = experiment.arc_holding(np.stack([np.cos(ang), np.sin(ang)], 1), frac=0.9)
    assert abs(arc - 81.0) < 0.2


def test_ring_experiment_and_summary_small():
    from unsupervised.datasets import ring_modes, ring_of_gaussians

    X, _ = ring_of_gaussians(512, n_modes=4, radius=2.0, std=0.02, seed=0)
    centers = ring_modes(4, 2.0)
    runs = experiment.ring_experiment(
        X, centers, 0.02, seeds=[0], n_steps=4, snapshot_every=2, n_snapshot=64
    )
    assert set(runs) == {(m, 0) for m in experiment.RING_METHODS}
    r = runs["NS-GAN", 0]
    assert list(r["hist"]["snapshot_steps"]) == [0, 2, 4] and r["modes"].shape == (3,)
    s = experiment.ring_summary(runs, after=2, collapsed_above=0.5)
    np.testing.assert_allclose(s["NS-GAN"]["avg"], [r["modes"][1:].mean()])
    np.testing.assert_allclose(s["NS-GAN"]["top"], [100 * r["top"]])
    assert s["MM-GAN"]["dfake"].shape == (1, 4)
    fig = experiment.plot_ring_snapshots(runs, X, seed=0, cols=[0, 2])
    assert len(fig.axes) == 3 * 2
    fig2 = experiment.plot_ring_curves(runs, 0.99)
    assert len(fig2.axes[0].lines) == 3
    plt.close("all")


def test_exact_log_sigmoid_against_scipy():
    a = np.array([-30.0, -1.0, 0.0, 2.0, 30.0])
    ref = np.stack([log_expit(a), log_expit(-a)], axis=1)
    np.testing.assert_allclose(experiment.exact_log_sigmoid(a), ref, rtol=1e-14)
    assert experiment.exact_log_sigmoid(np.array([800.0]))[0, 1] == -800.0


def test_shifted_and_quad_expectations_agree_and_match_a_closed_form():
    thetas = np.array([-1.0, 0.5])
    # logit 0 everywhere: D = 1/2, both objectives are -log 2 and log 2
    J_mm, J_ns = experiment.shifted_expectations(lambda x: 0.0 * x, thetas)
    np.testing.assert_allclose(J_mm, -math.log(2), rtol=1e-9)
    np.testing.assert_allclose(J_ns, math.log(2), rtol=1e-9)

    def logit(x):
        return 2.0 - x**2

    J_mm, J_ns = experiment.shifted_expectations(logit, thetas)
    q = experiment.quad_expectations(logit, thetas, points=[0.0])
    np.testing.assert_allclose(q, np.stack([J_mm, J_ns], 1), atol=1e-10)
    ref = integrate.quad(lambda z: log_expit(-logit(0.5 + z)) * stats.norm.pdf(z), -12, 12)[0]
    assert abs(J_mm[1] - ref) < 1e-9


def test_directional_derivatives_vanish_at_d_star_only():
    x = np.linspace(-10, 10, 4001)
    dx = x[1] - x[0]
    p, q = stats.norm.pdf(x, -1, 1), stats.norm.pdf(x, 1, 1.5)
    a_star = np.log(p) - np.log(q)
    dd = experiment.directional_derivatives(
        p, q, {"star": a_star, "zero": 0 * x}, x, dx, n_directions=3
    )
    assert np.abs(dd["star"]).max() < 1e-7 and np.abs(dd["zero"]).max() > 1e-2
    # the derivative along delta at a = 0 is int (p (1 - D) - q D) delta with D = 1/2
    rng = np.random.default_rng(5)
    c, w, s = rng.uniform(-6, 6, 5), rng.standard_normal(5), rng.uniform(0.5, 2.0, 5)
    delta = (w * np.exp(-0.5 * ((x[:, None] - c) / s) ** 2)).sum(axis=1)
    assert abs(dd["zero"][0] - np.sum(0.5 * (p - q) * delta) * dx) < 1e-7


def test_sigmoid_family_against_direct_sums():
    w = np.linspace(-0.99, 0.99, 199)
    ww = np.full_like(w, 1 / w.size)
    out = experiment.sigmoid_family(np.array([2.0]), w, ww, theta=3.0)
    d_fake = expit(2.0 * (1.5 - 3.0 - w))
    assert out["g_mm"][0] == pytest.approx(2.0 * np.mean(d_fake), rel=1e-12)
    assert out["g_ns"][0] == pytest.approx(2.0 * np.mean(1 - d_fake), rel=1e-12)
    assert out["eps"][0] == pytest.approx(out["sup_val"][0] + out["sup_grad"][0])


def test_point_mass_family_gradient_is_s_over_1_minus_v():
    w = np.linspace(-1, 1, 201)
    out = experiment.point_mass_family(np.array([1e-3]), np.array([5e-2]), w, theta=3.0)
    assert out["grad"][0] == pytest.approx(5e-2 / (1 - 1e-3), rel=1e-9)
    assert out["eps"][0] >= 1e-3 + 5e-2 - 1e-12


def test_figures_return_figures():
    x = np.linspace(-3, 3, 50)
    figs = [
        experiment.plot_generator_losses(x, x**2, (x - 1) ** 2, x, expit(x)),
        experiment.plot_digits(np.zeros((4, 8, 8)), np.zeros((4, 8, 8)), n=4),
        experiment.plot_discriminator_fit(
            x, expit(x), expit(-x), x, expit(x), expit(x), expit(x), -1.0, 1.0
        ),
        experiment.plot_js_saturation(x, x, x, np.arange(3.0), np.ones((3, 2))),
        experiment.plot_kl_fits(x, stats.norm.pdf(x), np.ones((3, 2)), x, x**2, x**2),
    ]
    for fig, n in zip(figs, [3, 2, 2, 2, 2]):
        assert isinstance(fig, plt.Figure) and len(fig.axes) == n
        plt.close(fig)


def test_central_gradient_of_a_quadratic():
    g = experiment.central_gradient(lambda t: t[0] ** 2 + 3 * t[1], np.array([1.5, -2.0]))
    np.testing.assert_allclose(g, [3.0, 3.0], rtol=1e-9)


def test_ga10_readings_match_direct_sums_and_the_gradient_identity():
    x = np.linspace(-12, 12, 6001)
    dx = x[1] - x[0]
    p_r = 0.4 * stats.norm.pdf(x, -2, 0.8) + 0.6 * stats.norm.pdf(x, 2, 1.0)
    p_r /= p_r.sum() * dx
    t0 = np.array([0.5, math.log(1.2)])
    r = experiment.ga10_readings(p_r, x, dx, t0)
    q = stats.norm.pdf(x, 0.5, 1.2)
    q /= q.sum() * dx
    m = 0.5 * (p_r + q)
    kl = np.sum(q * np.log(q / p_r)) * dx
    js = 0.5 * np.sum(p_r * np.log(p_r / m)) * dx + 0.5 * np.sum(q * np.log(q / m)) * dx
    assert r["target"](t0) == pytest.approx(kl - 2 * js, abs=1e-10)
    assert r["value"](t0) == pytest.approx(np.sum(q * np.log(p_r / (p_r + q))) * dx, abs=1e-10)
    g = {k: experiment.central_gradient(r[k], t0) for k in ("frozen", "target", "real", "through")}
    np.testing.assert_allclose(g["frozen"], -g["target"], atol=1e-6)
    np.testing.assert_allclose(g["through"] + g["real"], 0.0, atol=1e-6)


def test_gradient_while_d_trains_records_autograd_of_the_losses():
    from unsupervised.gan import Discriminator

    w = torch.linspace(-0.9, 0.9, 16)
    out = experiment.gradient_while_d_trains(w, w, theta=3.0, steps=2, every=1, lr=1e-3, seed=1)
    assert list(out["steps"]) == [0, 1, 2] and out["grads"].shape == (3, 2)
    D = Discriminator(data_dim=1, hidden=(32, 32), seed=1)
    theta = torch.tensor(3.0, requires_grad=True)
    a = D((theta + w).unsqueeze(1))
    (g,) = torch.autograd.grad(torch.nn.functional.logsigmoid(-a).mean(), theta)  # log(1 - D)
    assert out["grads"][0, 0] == pytest.approx(abs(g.item()), rel=1e-5)


def test_gradient_while_d_trains_after_training_steps():
    # an independent loop: Adam on -log sigma(a_real) - log sigma(-a_fake), then both
    # generator gradients at the final D
    from unsupervised.gan import Discriminator

    F = torch.nn.functional
    w_r, w_f = torch.linspace(-0.9, 0.9, 16), torch.linspace(-0.5, 0.8, 12)
    out = experiment.gradient_while_d_trains(w_r, w_f, theta=3.0, steps=6, every=3, lr=1e-2, seed=2)
    D = Discriminator(data_dim=1, hidden=(32, 32), seed=2)
    opt = torch.optim.Adam(D.parameters(), lr=1e-2)
    theta = torch.tensor(3.0, requires_grad=True)
    refs = []
    for step in range(7):
        if step % 3 == 0:
            a = D((theta + w_f).unsqueeze(1))
            (g_m,) = torch.autograd.grad(F.logsigmoid(-a).mean(), theta, retain_graph=True)
            (g_n,) = torch.autograd.grad(-F.logsigmoid(a).mean(), theta)
            refs.append((abs(g_m.item()), abs(g_n.item())))
        x_f = (theta.detach() + w_f).unsqueeze(1)
        loss = -(F.logsigmoid(D(w_r.unsqueeze(1))).mean() + F.logsigmoid(-D(x_f)).mean())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert list(out["steps"]) == [0, 3, 6]
    np.testing.assert_allclose(out["grads"], refs, rtol=1e-5)
    assert abs(refs[2][0] - refs[0][0]) > 1e-3 * refs[0][0]  # D moved between the records
    assert out["d_loss"] == pytest.approx(loss.item(), rel=1e-5)


def test_fit_discriminator_learns_a_separable_pair():
    def real(n, gen):
        return (2.0 + 0.1 * torch.randn(n, generator=gen)).unsqueeze(1)

    def fake(n, gen):
        return (-2.0 + 0.1 * torch.randn(n, generator=gen)).unsqueeze(1)

    x = torch.tensor([[-2.0], [2.0]])
    out = experiment.fit_discriminator(real, fake, x, steps=200, batch=32, lr=1e-2)
    assert out["trained"][0] < 0.05 and out["trained"][1] > 0.95  # D* = 0 and 1 there
    assert out["untrained"].shape == (2,) and out["loss"] < 0.1


def test_gaussian_kl_fits_forward_is_moment_matching():
    x = np.linspace(-15, 15, 6001)
    dx = x[1] - x[0]
    p = 0.35 * stats.norm.pdf(x, -3, 0.8) + 0.65 * stats.norm.pdf(x, 2, 1.0)
    fits = experiment.gaussian_kl_fits(p, x, dx, reverse_starts=[[2.0, 0.0], [-3.0, 0.0]])
    mean = 0.35 * -3 + 0.65 * 2
    sd = math.sqrt(0.35 * (0.64 + 9) + 0.65 * (1 + 4) - mean**2)
    assert abs(fits["forward"].x[0] - mean) < 1e-4
    assert abs(math.exp(fits["forward"].x[1]) - sd) < 1e-4
    assert abs(fits["reverse"][0].x[0] - 2) < 0.1 and abs(fits["reverse"][1].x[0] + 3) < 0.1
    assert fits["reverse_kl"](fits["reverse"][0].x) == pytest.approx(fits["reverse"][0].fun)


def test_table_formats_aligns_and_renders_html():
    text = experiment.table(["a", "value"], zip([1, 20], [0.5, torch.tensor(2.25)]), "d .2f")
    assert text.splitlines() == [" a  value", " 1   0.50", "20   2.25"]
    html = experiment.table(["x", "y"], [("G", 3)], "- d", html=True)
    assert html == "<table><tr><th>x</th><th>y</th></tr><tr><td>G</td><td>3</td></tr></table>"
    with pytest.raises(ValueError):
        experiment.table(["a"], [(1, 2)], "d d")


def test_ring_animation_has_one_frame_per_snapshot():
    run = {
        "hist": {"snapshot_steps": np.array([0, 5, 10]), "snapshots": np.zeros((3, 4, 2))},
        "modes": np.array([0.0, 1.0, 2.0]),
    }
    X = np.random.default_rng(0).standard_normal((50, 2))
    html = experiment.ring_animation(run, X, dpi=20)
    assert html.count("frames[") >= 3 and "fontawesome" not in html.lower()
    assert not plt.get_fignums() or all(plt.figure(n).axes == [] for n in plt.get_fignums())


def test_quadratic_logit_fit_matched_moments_give_one_half():
    x = np.linspace(-15, 15, 6001)
    dx = x[1] - x[0]
    p_r = 0.5 * stats.norm.pdf(x, -1, 0.5) + 0.5 * stats.norm.pdf(x, 1, 0.5)
    sd = math.sqrt(0.25 + 1.0)
    p_t = stats.norm.pdf(x, 0, sd)
    best = experiment.quadratic_logit_fit(p_r, p_t, x / sd, dx, n_starts=2, seed=0)
    assert abs(best.fun - 2 * math.log(2)) < 1e-8 and np.abs(best.x).max() < 1e-3
    wider = experiment.quadratic_logit_fit(
        p_r, stats.norm.pdf(x, 0, 2 * sd), x / sd, dx, n_starts=1
    )
    assert -wider.fun > -2 * math.log(2) + 1e-2


def test_shifted_js_against_quad_and_log2():
    x = np.linspace(-20, 20, 40001)
    dx = x[1] - x[0]
    got = experiment.shifted_js(lambda u: stats.norm.pdf(u), np.array([0.0, 1.0]), x, dx)

    def integrand(u, t):
        p, q = stats.norm.pdf(u), stats.norm.pdf(u, t)
        m = 0.5 * (p + q)
        return 0.5 * p * math.log(p / m) + 0.5 * q * math.log(q / m)

    ref = integrate.quad(integrand, -20, 20, args=(1.0,), epsabs=1e-13)[0]
    assert got[0] == 0.0 and abs(got[1] - ref) < 1e-9
    box = experiment.shifted_js(lambda u: np.where(np.abs(u) < 1, 0.5, 0.0), np.array([3.0]), x, dx)
    assert abs(box[0] - math.log(2)) < 1e-3


def test_gradients_two_ways_known_values():
    def f(t):
        return t[0] ** 2 + math.exp(2 * t[1])  # mu^2 + s^2

    g_log, g_s = experiment.gradients_two_ways(f, 1.5, 2.0)
    np.testing.assert_allclose(g_log, [3.0, 8.0], atol=1e-6)  # d/d log s of s^2 = 2 s^2
    np.testing.assert_allclose(g_s, [3.0, 4.0], atol=1e-6)


def test_monte_carlo_value_known_values():
    w, m, s = np.array([0.5, 0.5]), np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    v, se = experiment.monte_carlo_value(lambda x: np.zeros_like(x), w, m, s, 0.0, 1.0, n=1000)
    assert v == pytest.approx(-2 * math.log(2), abs=1e-15) and se < 1e-12  # D = 1/2 everywhere

    def logit(x):
        return 0.5 - x

    v, se = experiment.monte_carlo_value(logit, w, m, s, 0.0, 2.0, n=200_000, seed=1)

    def pr(x):
        return 0.5 * stats.norm.pdf(x, -1, 0.5) + 0.5 * stats.norm.pdf(x, 1, 0.5)

    ref = integrate.quad(lambda x: pr(x) * log_expit(logit(x)), -12, 12)[0]
    ref += integrate.quad(lambda x: stats.norm.pdf(x, 0, 2) * log_expit(-logit(x)), -20, 20)[0]
    assert abs(v - ref) < 4 * se


def test_touching_boxes_js_and_slopes():
    x = np.linspace(-5, 7, 12001)
    js, left, right = experiment.touching_boxes(x, x[1] - x[0], hb=0.05)
    assert abs(js - math.log(2)) < 1e-10 and abs(left - math.log(2)) < 1e-8 and abs(right) < 1e-8


def test_fine_quad_and_nelder_mead_known_values():
    got = experiment.fine_quad(lambda x: stats.norm.pdf(x) * x**2, -40, 40, [0.0])
    assert abs(got - 1.0) < 1e-12  # E[z^2] = 1
    x = experiment.nelder_mead(lambda t: (t[0] - 1.5) ** 2 + 3 * (t[1] + 0.5) ** 2, [0.0, 0.0])
    np.testing.assert_allclose(x, [1.5, -0.5], atol=1e-7)


def test_dcgan_rows_match_layer_table():
    from unsupervised.gan import DCGANDiscriminator

    G = DCGANGenerator(latent_dim=4, image_size=16, channels=1, width=8, seed=0).eval()
    D = DCGANDiscriminator(image_size=16, channels=1, width=8, seed=0).eval()
    z = torch.randn(2, 4)
    rows, g_rows, d_rows = experiment.dcgan_rows(G, D, z)
    assert rows[0] == ("G", "input", "z", "1x1x4", "")
    assert rows[len(g_rows) + 1] == ("D", "input", "image", "16x16x1", "")
    assert len(rows) == len(g_rows) + len(d_rows) + 2
    assert g_rows == experiment.layer_table(G, z)
    total = sum(int(r[4].replace(",", "")) for r in rows if r[4])
    assert total == sum(p.numel() for p in G.parameters()) + sum(p.numel() for p in D.parameters())
