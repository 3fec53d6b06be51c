"""Experiments and figures of the chapter on GANs (chapter 05; see experiments/__init__.py).

Each function runs one of the chapter's harnesses (a table of layers, repeated training runs,
summaries of their snapshots) and returns the numbers a notebook check asserts on; the checks
themselves stay in the notebook. ``plot_*`` functions draw a figure from numbers already
computed and return the Figure. Formula IDs refer to book/formulas.yml (GA1-GA11).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from unsupervised._validation import (
    Array,
    Density,
    Flag,
    Function,
    Instance,
    Integer,
    Real,
    Sizes,
    Tensor,
    Text,
    validate,
)
from unsupervised.gan import Discriminator, Generator, mode_coverage, train_gan
from unsupervised.plotting import animation_html

__all__ = [
    "table",
    "ring_animation",
    "layer_table",
    "pixel_gaps",
    "top_share",
    "arc_holding",
    "ring_experiment",
    "ring_summary",
    "exact_log_sigmoid",
    "shifted_expectations",
    "quad_expectations",
    "directional_derivatives",
    "sigmoid_family",
    "point_mass_family",
    "ga10_readings",
    "central_gradient",
    "gradient_while_d_trains",
    "fit_discriminator",
    "gaussian_kl_fits",
    "quadratic_logit_fit",
    "shifted_js",
    "gradients_two_ways",
    "monte_carlo_value",
    "touching_boxes",
    "fine_quad",
    "nelder_mead",
    "dcgan_rows",
    "plot_generator_losses",
    "plot_digits",
    "plot_discriminator_fit",
    "plot_js_saturation",
    "plot_kl_fits",
    "plot_ring_snapshots",
    "plot_ring_curves",
]

#: The three ways of training on the ring: name -> (packing of D, generator loss, GA3).
RING_METHODS = {
    "NS-GAN": (1, "non_saturating"),
    "MM-GAN": (1, "minimax"),
    "PacGAN2": (2, "non_saturating"),
}


def _describe(mod: nn.Module) -> str:
    if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
        return (
            f"{type(mod).__name__}({mod.in_channels}->{mod.out_channels}, "
            f"k={mod.kernel_size[0]}, s={mod.stride[0]}, p={mod.padding[0]})"
        )
    if isinstance(mod, nn.LeakyReLU):
        return f"LeakyReLU({mod.negative_slope})"
    return type(mod).__name__


@validate(
    header=Instance((list, tuple)),
    rows=Instance((list, tuple, zip)),
    fmt=Text(),
    html=Flag(),
)
def table(header, rows, fmt: str, html: bool = False) -> str:
    """A table of printed evidence: ``header`` (one name per column) over ``rows`` (sequences
    of cells, or a ``zip`` of columns), cell j formatted with the j-th of the space-separated
    format specs of ``fmt`` ("-" for ``str``); 0-d tensors and numpy scalars are formatted by
    their ``.item()``. Plain text: columns right-aligned, as wide as their widest entry, two
    spaces apart. ``html=True``: an HTML ``<table>`` (for ``IPython.display.HTML``)."""
    specs = ["" if f == "-" else f for f in fmt.split()]
    body = []
    for row in rows:
        row = list(row)
        if len(row) != len(specs) or len(row) != len(header):
            raise ValueError(
                f"a row of {len(row)} cells for {len(header)} columns and {len(specs)} specs"
            )
        body.append([format(c.item() if hasattr(c, "item") else c, f) for c, f in zip(row, specs)])
    if html:
        cells = ["".join(f"<th>{h}</th>" for h in header)]
        cells += ["".join(f"<td>{c}</td>" for c in r) for r in body]
        return "<table>" + "".join(f"<tr>{r}</tr>" for r in cells) + "</table>"
    widths = [max(len(str(h)), *(len(r[j]) for r in body)) for j, h in enumerate(header)]
    lines = [[str(h) for h in header], *body]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in lines)


@validate(
    run=Instance(dict), X=Array(ndim=2, shape=(None, 2)), title=Text(), dpi=Integer(minimum=10)
)
def ring_animation(run: dict, X: np.ndarray, title: str = "NS-GAN", dpi: int = 80) -> str:
    """The snapshots of one run of ``ring_experiment`` as an HTML animation (one frame per
    snapshot, blue, over 1000 points of the data X in grey, titled with the step and the modes
    covered), via ``plotting.animation_html``; the figure is closed."""
    from matplotlib import animation

    steps, snaps = run["hist"]["snapshot_steps"], run["hist"]["snapshots"]
    with plt.rc_context({"savefig.dpi": dpi, "figure.dpi": dpi}):
        fig, ax = plt.subplots(figsize=(3.6, 3.6))
        ax.scatter(*X[:1000].T, s=2, color="0.75")
        dots = ax.scatter(*snaps[0].T, s=1, alpha=0.3, color="C0")
        head = ax.set_title("")
        ax.set_xlim(-3.2, 3.2)
        ax.set_ylim(-3.2, 3.2)
        ax.set_aspect("equal")

        def show_frame(i):
            dots.set_offsets(snaps[i])
            head.set_text(f"{title}, step {steps[i]}: {int(run['modes'][i])} modes")
            return dots, head

        anim = animation.FuncAnimation(fig, show_frame, frames=len(steps), interval=400)
        html = animation_html(anim, default_mode="loop")
        plt.close(fig)
    return html


@validate(model=Instance(nn.Module), inp=Tensor())
def layer_table(model: nn.Module, inp: torch.Tensor) -> list[tuple[str, str, str, int]]:
    """One row per layer of ``model.net`` (an nn.Sequential, e.g. the DCGAN networks, GA11) on
    the input ``inp`` (B, ...): (layer name, type with its conv settings, output shape written
    H x W x C (or the shape for non-image outputs), number of parameters). The model is run
    once under no_grad, in its current train/eval mode."""
    if not isinstance(getattr(model, "net", None), nn.Module):
        raise ValueError(
            f"model must have a .net submodule (an nn.Sequential); got {type(model).__name__}"
        )
    rows = []
    hooks = [
        m.register_forward_hook(
            lambda mod, args, out, name=name: rows.append((name, mod, tuple(out.shape[1:])))
        )
        for name, m in model.net.named_children()
    ]
    try:
        with torch.no_grad():
            model(inp.to(next(model.parameters()).dtype))
    finally:
        for h in hooks:
            h.remove()

    def hwc(s):
        return f"{s[1]}x{s[2]}x{s[0]}" if len(s) == 3 else "x".join(map(str, s))

    return [
        (name, _describe(m), hwc(s), sum(p.numel() for p in m.parameters())) for name, m, s in rows
    ]


@validate(before=Array(ndim=3), after=Array(ndim=3), data=Array(ndim=3))
def pixel_gaps(before: np.ndarray, after: np.ndarray, data: np.ndarray) -> dict:
    """Four pixel statistics of image sets (N, H, W) against the data's: the gaps
    |mean pixel|, |fraction of pixels > 0|, |pixel std| and the Euclidean distance between
    the mean images, for the samples ``before`` and ``after`` training.

    Returns {"names": 4 labels, "before": (4,), "after": (4,), "closed": 1 - after / before}.
    """
    for name, S in (("before", before), ("after", after)):
        if S.shape[1:] != data.shape[1:]:
            raise ValueError(
                f"{name} must hold images of data's size {data.shape[1:]}; got {S.shape[1:]}"
            )

    def gaps(S):
        stats = np.array(
            [S.mean() - data.mean(), (S > 0).mean() - (data > 0).mean(), S.std() - data.std()]
        )
        return np.append(np.abs(stats), np.linalg.norm(S.mean(axis=0) - data.mean(axis=0)))

    b, a = gaps(before), gaps(after)
    with np.errstate(divide="ignore", invalid="ignore"):
        closed = 1 - a / b
    names = ["mean pixel", "ink fraction (> 0)", "pixel std", "|mean image - data|"]
    return {"names": names, "before": b, "after": a, "closed": closed}


@validate(S=Array(ndim=2), centers=Array(ndim=2))
def top_share(S: np.ndarray, centers: np.ndarray) -> float:
    """The largest mode share: the fraction of the samples S (N, d) whose nearest centre
    (centers (K, d)) is the most common one (1/K when spread evenly, 1 when all on one)."""
    if S.shape[1] != centers.shape[1]:
        raise ValueError(f"S must have centers' dimension {centers.shape[1]}; got {S.shape[1]}")
    nearest = ((S[:, None, :] - centers[None, :, :]) ** 2).sum(-1).argmin(axis=1)
    return float(np.bincount(nearest, minlength=len(centers)).max() / len(S))


@validate(S=Array(ndim=2, shape=(None, 2)), frac=Real(low=0, high=1, low_open=True))
def arc_holding(S: np.ndarray, frac: float = 0.9) -> float:
    """The narrowest arc of angles about the origin (degrees) holding ``frac`` of the 2-D
    samples S (N, 2)."""
    a = np.sort(np.mod(np.arctan2(S[:, 1], S[:, 0]), 2 * np.pi))
    n, m = len(a), int(np.ceil(frac * len(a)))
    a2 = np.concatenate([a, a + 2 * np.pi])
    return float(np.degrees((a2[np.arange(n) + m - 1] - a2[np.arange(n)]).min()))


@validate(
    X=Tensor(ndim=2, shape=(None, 2)),
    centers=Array(ndim=2, shape=(None, 2)),
    std=Real(low=0, low_open=True),
    seeds=Sizes(minimum=0),
    n_steps=Integer(minimum=1),
    snapshot_every=Integer(minimum=1),
    n_snapshot=Integer(minimum=1),
)
def ring_experiment(
    X: torch.Tensor,
    centers: np.ndarray,
    std: float,
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4),
    n_steps: int = 3000,
    snapshot_every: int = 250,
    n_snapshot: int = 2500,
) -> dict:
    """Train a GAN on 2-D data X (N, 2) once per method of ``RING_METHODS`` and per seed.

    G: z in R^2 -> 64 -> 64 -> 2 (``Generator(seed=seed)``); D: one hidden layer of 128
    (``Discriminator(packing=m, seed=100 + seed)``); ``train_gan`` with Adam (lr 1e-3,
    betas (0.5, 0.999)), batches of 256, the method's loss (GA3), ``seed``. Every snapshot
    is scored with ``mode_coverage(S, centers, std)`` and ``top_share``.

    Returns {(method, seed): {"hist": train_gan's history, "modes" (K,), "hq" (K,),
    "tops" (K,), "top": the last of tops}} with K snapshots.
    """
    runs = {}
    for method, (packing, loss) in RING_METHODS.items():
        for seed in seeds:
            G = Generator(latent_dim=2, data_dim=2, hidden=(64, 64), seed=seed)
            D = Discriminator(data_dim=2, hidden=(128,), packing=packing, seed=100 + seed)
            hist = train_gan(
                G,
                D,
                X,
                n_steps=n_steps,
                batch_size=256,
                lr=1e-3,
                betas=(0.5, 0.999),
                loss=loss,
                seed=seed,
                snapshot_every=snapshot_every,
                n_snapshot=n_snapshot,
            )
            metrics = np.array([mode_coverage(S, centers, std) for S in hist["snapshots"]])
            tops = np.array([top_share(S, centers) for S in hist["snapshots"]])
            runs[method, seed] = dict(
                hist=hist, modes=metrics[:, 0], hq=metrics[:, 1], tops=tops, top=tops[-1]
            )
    return runs


@validate(runs=Instance(dict), after=Integer(minimum=0), collapsed_above=Real(low=0, high=1))
def ring_summary(runs: dict, after: int = 1500, collapsed_above: float = 0.5) -> dict:
    """Per method of ``runs`` (``ring_experiment``'s result), arrays over its seeds:
    "avg" (mean modes covered in the snapshots at steps >= ``after``), "avgtop" (mean largest
    mode share there, %), "modes", "hq" (%), "top" (%) (the last snapshot), "collapsed"
    (avgtop > 100 collapsed_above, bool), "arc" (narrowest arc holding 90 % of the last
    snapshot, degrees) and "dfake" (seeds, steps): train_gan's batch means of D(G(z))."""
    out = {}
    for method in dict.fromkeys(m for m, _ in runs):
        rs = [r for (m, _), r in runs.items() if m == method]
        late = rs[0]["hist"]["snapshot_steps"] >= after
        s = {
            "avg": np.array([r["modes"][late].mean() for r in rs]),
            "avgtop": np.array([100 * r["tops"][late].mean() for r in rs]),
            "modes": np.array([r["modes"][-1] for r in rs], dtype=float),
            "hq": np.array([100 * r["hq"][-1] for r in rs]),
            "top": np.array([100 * r["top"] for r in rs]),
            "arc": np.array([arc_holding(r["hist"]["snapshots"][-1]) for r in rs]),
            "dfake": np.array([r["hist"]["d_of_fake"] for r in rs]),
        }
        s["collapsed"] = s["avgtop"] > 100 * collapsed_above
        out[method] = s
    return out


# --------------------------------------------------------------------------- figures
@validate(
    thetas=Array(ndim=1),
    J_mm=Array(ndim=1),
    J_ns=Array(ndim=1),
    x=Array(ndim=1),
    d_of_x=Array(ndim=1),
)
def plot_generator_losses(thetas, J_mm, J_ns, x, d_of_x):
    """GA3: the two generator losses and |d loss / d logit| as functions of D(G(z)), and
    E_z of each loss for G_theta(z) = theta + z (J_mm, J_ns on ``thetas``, scaled to [0, 1])
    next to the fixed discriminator D(x) (``d_of_x`` on ``x``)."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    Dv = np.linspace(1e-4, 1 - 1e-4, 500)
    axes[0].plot(Dv, np.log1p(-Dv), label=r"minimax: $\log(1-D)$")
    axes[0].plot(Dv, -np.log(Dv), label=r"non-saturating: $-\log D$")
    axes[0].set_xlabel(r"$D(G(z))$")
    axes[0].set_ylabel("generator loss (minimise)")
    axes[1].semilogy(Dv, Dv, label=r"minimax: $D$")
    axes[1].semilogy(Dv, 1 - Dv, label=r"non-saturating: $1-D$")
    axes[1].set_xlabel(r"$D(G(z))$")
    axes[1].set_ylabel("|d loss / d logit|")
    for ax in axes[:2]:
        ax.legend()
    axes[2].plot(x, d_of_x, color="0.5", label=r"fixed $D(x)$")
    axes[2].plot(thetas, (J_mm - J_mm.min()) / np.ptp(J_mm), label=r"$E_z\log(1-D)$ (scaled)")
    axes[2].plot(thetas, (J_ns - J_ns.min()) / np.ptp(J_ns), label=r"$-E_z\log D$ (scaled)")
    axes[2].set_xlabel(r"$x$ or $\theta$")
    axes[2].legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    fig.tight_layout()
    return fig


@validate(data=Array(ndim=3), samples=Array(ndim=3), n=Integer(minimum=1))
def plot_digits(data, samples, n=60):
    """Images in [-1, 1] (N, H, W): the first ``n`` training images and ``n`` samples."""
    from unsupervised.plotting import image_grid

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    image_grid((data[:n] + 1) / 2, ncols=10, ax=axes[0])
    axes[0].set_title(f"training digits ({data.shape[1]} x {data.shape[2]})")
    image_grid((samples[:n] + 1) / 2, ncols=10, ax=axes[1])
    axes[1].set_title("DCGAN samples after training")
    return fig


@validate(
    x=Array(ndim=1),
    p_r=Array(ndim=1),
    p_theta=Array(ndim=1),
    xe=Array(ndim=1),
    d_star=Array(ndim=1),
    d_trained=Array(ndim=1),
    d_untrained=Array(ndim=1),
    lo=Real(),
    hi=Real(),
)
def plot_discriminator_fit(x, p_r, p_theta, xe, d_star, d_trained, d_untrained, lo, hi):
    """GA5: the two densities on x (left); D* and a trained and an untrained discriminator
    on xe, with the compared region [lo, hi] shaded (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    axes[0].plot(x, p_r, label=r"$p_r$")
    axes[0].plot(x, p_theta, label=r"$p_\theta$")
    axes[0].set_xlim(-8, 8)
    axes[0].set_xlabel("x")
    axes[0].set_ylabel("density")
    axes[0].legend()
    axes[1].plot(xe, d_star, "k--", label=r"$D^\star = p_r / (p_r + p_\theta)$")
    axes[1].plot(xe, d_trained, label="trained discriminator")
    axes[1].plot(xe, d_untrained, color="0.6", lw=1, label="untrained")
    axes[1].axvspan(lo, hi, color="C2", alpha=0.08, label="compared region")
    axes[1].set_xlabel("x")
    axes[1].set_ylabel("D(x)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


@validate(
    shifts=Array(ndim=1),
    js_bump=Array(ndim=1),
    js_gauss=Array(ndim=1),
    steps=Array(ndim=1),
    grads=Array(ndim=2, shape=(None, 2)),
)
def plot_js_saturation(shifts, js_bump, js_gauss, steps, grads):
    """GA7: JS divergence against the shift for disjoint-support bumps and for Gaussians
    (left); the generator's |gradient| (minimax, non-saturating: grads (T, 2)) while the
    discriminator trains (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    axes[0].plot(shifts, js_bump, label="disjoint-support bumps")
    axes[0].plot(shifts, js_gauss, label=r"$N(0,1)$ vs $N(\theta,1)$")
    axes[0].axhline(np.log(2.0), color="k", ls=":", lw=1, label=r"$\log 2$")
    axes[0].set_xlabel(r"shift $\theta$")
    axes[0].set_ylabel(r"$D_{JS}(p_r \| p_\theta)$")
    axes[1].semilogy(steps, grads[:, 0], label=r"minimax $|\partial_\theta E\log(1-D)|$")
    axes[1].semilogy(steps, grads[:, 1], label=r"non-saturating $|\partial_\theta E\log D|$")
    axes[1].set_xlabel("discriminator training steps")
    axes[1].set_ylabel("generator gradient")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@validate(
    x=Array(ndim=1),
    p_r=Array(ndim=1),
    fits=Array(ndim=2, shape=(3, 2)),
    mus=Array(ndim=1),
    forward=Array(ndim=1),
    reverse=Array(ndim=1),
)
def plot_kl_fits(x, p_r, fits, mus, forward, reverse):
    """GA8: p_r on x with the Gaussians N(mu, s^2) of ``fits`` (rows (mu, s): the forward-KL
    fit, the best and a local reverse-KL fit) (left); both KLs against mu with s fixed
    (``forward``, ``reverse`` on ``mus``) (right)."""
    from scipy import stats

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    axes[0].fill_between(x, p_r, color="0.85", label=r"$p_r$")
    labels = [
        r"argmin KL$(p_r\|p_\theta)$",
        r"argmin KL$(p_\theta\|p_r)$",
        "reverse KL, local optimum",
    ]
    for (mu, s), label, style in zip(fits, labels, [{}, {}, dict(ls="--", color="C1", lw=1)]):
        axes[0].plot(x, stats.norm.pdf(x, mu, s), label=label, **style)
    axes[0].set_xlabel("x")
    axes[0].set_ylabel("density")
    axes[1].plot(mus, forward, label=r"KL$(p_r\|p_\theta)$, s fixed")
    axes[1].plot(mus, reverse, label=r"KL$(p_\theta\|p_r)$, s fixed")
    axes[1].set_ylim(0, 6)
    axes[1].set_xlabel(r"$\mu$")
    axes[1].set_ylabel("divergence (nats)")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@validate(runs=Instance(dict), X=Array(ndim=2), seed=Integer(minimum=0), cols=Sizes(minimum=0))
def plot_ring_snapshots(runs, X, seed=0, cols=(0, 2, 4, 6, 8, 10, 12)):
    """One row per method of ``runs`` (``ring_experiment``): the snapshots ``cols`` of its run
    with ``seed`` (blue) over 1000 data points X (grey), titled with step, modes, hq."""
    names = list(dict.fromkeys(m for m, _ in runs))
    fig, axes = plt.subplots(
        len(names),
        len(cols),
        figsize=(2.0 * len(cols), 2.5 * len(names)),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    for row, method in enumerate(names):
        run = runs[method, seed]
        steps = run["hist"]["snapshot_steps"]
        for ax, c in zip(axes[row], cols):
            ax.scatter(*X[:1000].T, s=2, color="0.75")
            ax.scatter(*run["hist"]["snapshots"][c].T, s=1, alpha=0.25, color="C0")
            ax.set_title(
                f"{method}, step {steps[c]}\n{int(run['modes'][c])} modes, hq {run['hq'][c]:.2f}",
                fontsize=8,
            )
            ax.set_xlim(-3.2, 3.2)
            ax.set_ylim(-3.2, 3.2)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout(h_pad=2.0)
    return fig


@validate(runs=Instance(dict), true_hq=Real(low=0, high=1))
def plot_ring_curves(runs, true_hq):
    """Modes covered (left) and high-quality fraction (right) against the training step, one
    line per run of ``runs`` (``ring_experiment``), colour by method; ``true_hq`` dotted."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    colors = dict(zip(dict.fromkeys(m for m, _ in runs), ["C3", "C2", "C0", "C1", "C4"]))
    seen = set()
    for (method, _), run in runs.items():
        label = None if method in seen else method
        seen.add(method)
        steps = run["hist"]["snapshot_steps"]
        axes[0].plot(steps, run["modes"], color=colors[method], alpha=0.6, label=label)
        axes[1].plot(steps, run["hq"], color=colors[method], alpha=0.6, label=label)
    axes[0].set_ylabel("modes covered (of 8)")
    axes[1].set_ylabel("high-quality fraction")
    axes[1].axhline(true_hq, color="k", ls=":", lw=1, label="true distribution")
    for ax in axes:
        ax.set_xlabel("training step")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- harnesses
@validate(a=Array(ndim=1), digits=Integer(minimum=20))
def exact_log_sigmoid(a: np.ndarray, digits: int = 50) -> np.ndarray:
    """GA1's reference: log D = log(1 / (1 + e^-a)) and log(1 - D) = log(e^-a / (1 + e^-a))
    by the definition in ``digits``-digit decimal arithmetic (no softplus), rounded to
    float64. a (N,) finite logits -> array (N, 2)."""
    from decimal import Decimal, localcontext

    out = []
    with localcontext() as ctx:
        ctx.prec = digits
        for ai in a:
            t = Decimal(-float(ai)).exp()  # e^{-a}
            out.append((float((1 / (1 + t)).ln()), float((t / (1 + t)).ln())))
    return np.array(out)


@validate(
    logit=Function("(x) -> logits"),
    thetas=Array(ndim=1),
    z_step=Real(low=0, low_open=True),
    z_max=Real(low=0, low_open=True),
)
def shifted_expectations(logit, thetas: np.ndarray, z_step: float = 0.005, z_max: float = 10.0):
    """GA3's two generator objectives for G_theta(z) = theta + z, z ~ N(0, 1), against a fixed
    discriminator with logit ``logit(x)`` (vectorised): J_mm = E_z[log(1 - D)] and
    J_ns = -E_z[log D], by trapezoid sums on z in [-z_max, z_max] with step ``z_step``
    (log D = -softplus(-a), log(1 - D) = -softplus(a)). thetas (T,) -> (J_mm, J_ns), (T,) each."""
    from scipy import stats

    z = np.linspace(-z_max, z_max, int(round(2 * z_max / z_step)) + 1)
    w = stats.norm.pdf(z) * (z[1] - z[0])
    a = logit(thetas[:, None] + z[None, :])
    return -np.logaddexp(0.0, a) @ w, np.logaddexp(0.0, -a) @ w


@validate(logit=Function("(x) -> logits"), thetas=Array(ndim=1), points=Array(ndim=1))
def quad_expectations(logit, thetas: np.ndarray, points=(0.0, 5.0)) -> np.ndarray:
    """The same two expectations as ``shifted_expectations`` by SciPy's adaptive ``quad``
    (over theta +- 12, breakpoints ``points``, tolerances 1e-13): array (T, 2)."""
    from scipy import integrate, stats

    def expect(f, t):
        return integrate.quad(
            lambda x: f(x) * stats.norm.pdf(x, t, 1.0),
            t - 12,
            t + 12,
            points=list(points),
            limit=400,
            epsabs=1e-13,
            epsrel=1e-13,
        )[0]

    return np.array(
        [
            [
                expect(lambda x: -np.logaddexp(0.0, logit(x)), t),
                expect(lambda x: np.logaddexp(0.0, -logit(x)), t),
            ]
            for t in thetas
        ]
    )


@validate(
    p_r=Array(ndim=1),
    p_theta=Array(ndim=1),
    logits=Instance(dict),
    x=Array(ndim=1),
    dx=Real(low=0, low_open=True),
    n_directions=Integer(minimum=1),
    seed=Integer(minimum=0),
    h=Real(low=0, low_open=True),
)
def directional_derivatives(p_r, p_theta, logits, x, dx, n_directions=20, seed=5, h=1e-4):
    """GA5's stationarity test: for each discriminator logit a (x,) in ``logits`` (name -> a),
    the central differences (V(a + h delta) - V(a - h delta)) / 2h of the library's
    ``value_function`` along ``n_directions`` smooth directions delta (each a sum of 5
    Gaussian bumps: centres U(-6, 6), widths U(0.5, 2), standard normal weights, drawn from
    ``np.random.default_rng(seed)``). Returns name -> array (n_directions,)."""
    from unsupervised.gan import value_function

    rng = np.random.default_rng(seed)
    directions = []
    for _ in range(n_directions):
        c, w, s = rng.uniform(-6, 6, 5), rng.standard_normal(5), rng.uniform(0.5, 2.0, 5)
        directions.append((w * np.exp(-0.5 * ((x[:, None] - c) / s) ** 2)).sum(axis=1))

    def V(a):
        return value_function(p_r, p_theta, a, dx, logits=True)

    return {
        name: np.array([(V(a + h * d) - V(a - h * d)) / (2 * h) for d in directions])
        for name, a in logits.items()
    }


@validate(
    ks=Array(ndim=1), w_nodes=Array(ndim=1), w_weights=Array(ndim=1), theta=Real(), edge=Real()
)
def sigmoid_family(ks, w_nodes, w_weights, theta=3.0, edge=1.5) -> dict:
    """GA7 (2): discriminators D_k(x) = sigmoid(k (edge - x)) for real samples w and generated
    samples theta + w (w on the nodes ``w_nodes`` with quadrature weights ``w_weights``).
    D* = 1 on the real support, 0 on the generated one, with x-derivative 0 on both.

    Returns arrays (len(ks),): "sup_val" (sup |D_k - D*|), "sup_grad" (sup |dD_k/dx|) over
    both supports, "eps" (their sum), "g_mm" = k E[D_k(theta + w)] and
    "g_ns" = k E[1 - D_k(theta + w)] (|d/dtheta| of the two generator losses, closed form)."""
    rows = []
    for k in ks:
        d_fake = 1 / (1 + np.exp(-k * (edge - (theta + w_nodes))))
        d_real = 1 / (1 + np.exp(-k * (edge - w_nodes)))
        sup_val = max(d_fake.max(), (1 - d_real).max())
        sup_grad = max((k * d_fake * (1 - d_fake)).max(), (k * d_real * (1 - d_real)).max())
        rows.append(
            (
                sup_val,
                sup_grad,
                sup_val + sup_grad,
                k * np.sum(w_weights * d_fake),
                k * np.sum(w_weights * (1 - d_fake)),
            )
        )
    rows = np.array(rows)
    return dict(zip(["sup_val", "sup_grad", "eps", "g_mm", "g_ns"], rows.T))


@validate(vs=Array(ndim=1), ss=Array(ndim=1), w_nodes=Array(ndim=1), theta=Real())
def point_mass_family(vs, ss, w_nodes, theta=3.0) -> dict:
    """GA7 (2), the nearly tight family: G_theta(z) = theta (a point mass) and
    D(x) = sigmoid(k (c - x)) with D(theta) = v and dD/dx(theta) = -s (k = s / (v (1 - v)),
    c = theta + logit(v) / k); real samples on ``w_nodes``. The minimax gradient is the
    library's ``generator_loss(., "minimax")`` differentiated by autograd at theta.

    Returns arrays (len(vs),): "eps" (sup |D - D*| + sup |dD/dx| over both supports),
    "sup_val", "grad" (|d/dtheta| of the minimax loss)."""
    from unsupervised.gan import generator_loss

    out = {"eps": [], "sup_val": [], "grad": []}
    for v, s in zip(vs, ss):
        k = s / (v * (1 - v))
        c = theta + np.log(v / (1 - v)) / k
        d_real = 1 / (1 + np.exp(-k * (c - w_nodes)))
        th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(generator_loss((k * (c - th)).reshape(1), "minimax"), th)
        d_at = torch.sigmoid(k * (c - th)).item()
        sup_val = max(d_at, (1 - d_real).max())
        sup_grad = max(k * d_at * (1 - d_at), (k * d_real * (1 - d_real)).max())
        out["eps"].append(sup_val + sup_grad)
        out["sup_val"].append(sup_val)
        out["grad"].append(abs(g.item()))
    return {key: np.array(v) for key, v in out.items()}


@validate(
    p_r=Density(), x=Array(ndim=1), dx=Real(low=0, low_open=True), theta0=Array(ndim=1, shape=(2,))
)
def ga10_readings(p_r, x, dx, theta0) -> dict:
    """GA9/GA10's functions of theta = (mu, log s), p_theta = N(mu, s^2) normalised on the grid
    x (p_r (x,) normalised there too, cell width dx), with D*_theta from the library's
    ``optimal_discriminator`` (logit form) and ``kl_divergence``/``js_divergence``.

    Returns name -> callable theta -> float: "frozen" F = E_p_theta[log D*_theta0], "value"
    L' = E_p_theta[log D*_theta], "real" E_p_r[log D*_theta], "through"
    E_p_theta0[log D*_theta], "target" KL(p_theta || p_r) - 2 JS(p_r || p_theta), "rev_kl"
    KL(p_theta || p_r) and "two_js" 2 JS(p_r || p_theta)."""
    from scipy import stats

    from unsupervised.divergences import js_divergence, kl_divergence
    from unsupervised.gan import optimal_discriminator

    def pt(t):
        q = stats.norm.pdf(x, t[0], np.exp(t[1]))
        return q / (q.sum() * dx)

    def log_d(t):
        return -np.logaddexp(0, -optimal_discriminator(p_r, pt(t), logit=True))

    frozen, pt0 = log_d(theta0), pt(theta0)
    return {
        "frozen": lambda t: np.sum(pt(t) * frozen) * dx,
        "value": lambda t: np.sum(pt(t) * log_d(t)) * dx,
        "real": lambda t: np.sum(p_r * log_d(t)) * dx,
        "through": lambda t: np.sum(pt0 * log_d(t)) * dx,
        "target": lambda t: kl_divergence(pt(t), p_r, dx) - 2 * js_divergence(p_r, pt(t), dx),
        "rev_kl": lambda t: kl_divergence(pt(t), p_r, dx),
        "two_js": lambda t: 2 * js_divergence(p_r, pt(t), dx),
    }


@validate(f=Function("(t) -> float"), t=Array(ndim=1), h=Real(low=0, low_open=True))
def central_gradient(f, t, h=1e-4) -> np.ndarray:
    """The central-difference gradient (f(t + h e_i) - f(t - h e_i)) / 2h, shape of t."""
    e = np.eye(len(t)) * h
    return np.array([(f(t + e[i]) - f(t - e[i])) / (2 * h) for i in range(len(t))])


@validate(
    w_real=Tensor(ndim=1),
    w_fake=Tensor(ndim=1),
    theta=Real(),
    steps=Integer(minimum=1),
    every=Integer(minimum=1),
    lr=Real(low=0, low_open=True),
    seed=Integer(minimum=0),
)
def gradient_while_d_trains(w_real, w_fake, theta=3.0, steps=1000, every=25, lr=5e-3, seed=1):
    """GA7 (3): train ``Discriminator(data_dim=1, hidden=(32, 32), seed=seed)`` with Adam (lr)
    on the library's ``discriminator_loss`` for real samples w_real (N,) against the fixed
    generated samples theta + w_fake (M,); every ``every`` steps (and at step 0) record
    |d/dtheta| of the two generator losses (``generator_loss``, minimax and non-saturating).

    Returns {"steps" (T,), "grads" (T, 2): minimax, non-saturating, "d_loss": the last loss}."""
    from unsupervised.gan import discriminator_loss, generator_loss

    w_real, w_fake = w_real.float(), w_fake.float()
    x_real = w_real.unsqueeze(1)
    theta_t = torch.tensor(float(theta), requires_grad=True)
    D = Discriminator(data_dim=1, hidden=(32, 32), seed=seed)
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    rec_steps, grads = [], []
    for step in range(steps + 1):
        if step % every == 0:
            a_f = D((theta_t + w_fake).unsqueeze(1))
            (g_m,) = torch.autograd.grad(generator_loss(a_f, "minimax"), theta_t, retain_graph=True)
            (g_n,) = torch.autograd.grad(generator_loss(a_f, "non_saturating"), theta_t)
            rec_steps.append(step)
            grads.append((abs(g_m.item()), abs(g_n.item())))
        loss = discriminator_loss(D(x_real), D((theta_t.detach() + w_fake).unsqueeze(1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {"steps": np.array(rec_steps), "grads": np.array(grads), "d_loss": loss.item()}


@validate(
    sample_real=Function("(n, generator) -> (n, 1)"),
    sample_fake=Function("(n, generator) -> (n, 1)"),
    x_eval=Tensor(ndim=2),
    steps=Integer(minimum=1),
    batch=Integer(minimum=1),
    lr=Real(low=0, low_open=True),
    seed=Integer(minimum=0),
    data_seed=Integer(minimum=0),
)
def fit_discriminator(
    sample_real, sample_fake, x_eval, steps=1500, batch=512, lr=3e-3, seed=0, data_seed=6
) -> dict:
    """GA5 (2): train ``Discriminator(data_dim=1, hidden=(64, 64), seed=seed)`` on the library's
    ``discriminator_loss``, ``batch`` real and ``batch`` generated samples per step (both drawn
    with one ``torch.Generator`` seeded ``data_seed``), Adam with the learning rate annealed
    from lr to 0 by a cosine over ``steps``. Returns sigmoid(logit) on x_eval (E, 1) before
    ("untrained", (E,)) and after ("trained") training, and the last "loss"."""
    from unsupervised.gan import discriminator_loss

    D = Discriminator(data_dim=1, hidden=(64, 64), seed=seed)
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(data_seed)
    x_eval = x_eval.float()
    with torch.no_grad():
        untrained = torch.sigmoid(D(x_eval)).numpy()
    for _ in range(steps):
        real = sample_real(batch, gen)
        fake = sample_fake(batch, gen)
        loss = discriminator_loss(D(real), D(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        trained = torch.sigmoid(D(x_eval)).numpy()
    return {"untrained": untrained, "trained": trained, "loss": loss.item()}


@validate(
    p_r=Density(),
    x=Array(ndim=1),
    dx=Real(low=0, low_open=True),
    forward_start=Array(ndim=1, shape=(2,)),
    reverse_starts=Array(ndim=2, shape=(None, 2)),
)
def gaussian_kl_fits(p_r, x, dx, forward_start=(0.0, 0.0), reverse_starts=((0.0, 0.0),)) -> dict:
    """GA8 (2): fit N(mu, s^2), parameters t = (mu, log s), to p_r on the grid x (step dx)
    under the forward KL(p_r || p_theta) and the reverse KL(p_theta || p_r) (the library's
    ``kl_divergence``) with Nelder-Mead (xatol 1e-8, fatol 1e-13) from the given starts.

    Returns {"forward": OptimizeResult, "reverse": [OptimizeResult per start],
    "forward_kl", "reverse_kl": the two objectives t -> float}."""
    from scipy import optimize, stats

    from unsupervised.divergences import kl_divergence

    def forward_kl(t):
        return kl_divergence(p_r, stats.norm.pdf(x, t[0], math.exp(t[1])), dx)

    def reverse_kl(t):
        return kl_divergence(stats.norm.pdf(x, t[0], math.exp(t[1])), p_r, dx)

    nm = dict(method="Nelder-Mead", options=dict(xatol=1e-8, fatol=1e-13, maxiter=4000))
    return {
        "forward": optimize.minimize(forward_kl, list(forward_start), **nm),
        "reverse": [optimize.minimize(reverse_kl, list(s), **nm) for s in reverse_starts],
        "forward_kl": forward_kl,
        "reverse_kl": reverse_kl,
    }


@validate(
    p_r=Density(),
    p_theta=Density(),
    u=Array(ndim=1),
    dx=Real(low=0, low_open=True),
    n_starts=Integer(minimum=1),
    seed=Integer(minimum=0),
)
def quadratic_logit_fit(p_r, p_theta, u, dx, n_starts=5, seed=8):
    """The best discriminator of the family D_w = sigmoid(w0 + w1 u + w2 u^2) (GA5, its capacity
    remark): BFGS (gtol 1e-10) maximises V(D_w, G) (``gan.value_function`` on the grid, logit
    form; p_r, p_theta and u of shape (n,), cell width dx) from ``n_starts`` standard-normal
    starts drawn by ``np.random.default_rng(seed)``. Returns the best ``OptimizeResult``:
    ``x`` = w (3,), ``fun`` = -max_w V."""
    from scipy import optimize

    from unsupervised.gan import value_function

    features = np.stack([np.ones_like(u), u, u**2])

    def minus_v(w):
        return -value_function(p_r, p_theta, w @ features, dx, logits=True)

    rng = np.random.default_rng(seed)
    fits = [
        optimize.minimize(minus_v, rng.standard_normal(3), method="BFGS", options=dict(gtol=1e-10))
        for _ in range(n_starts)
    ]
    return min(fits, key=lambda r: r.fun)


@validate(
    q=Function("(x) -> density"),
    shifts=Array(ndim=1),
    x=Array(ndim=1),
    dx=Real(low=0, low_open=True),
)
def shifted_js(q, shifts, x, dx) -> np.ndarray:
    """JS(q || q shifted by t) in nats for each t of ``shifts`` (GA7): ``js_divergence`` of
    the density q tabulated on the grid x (cell width dx) and of q(x - t); shape (len(shifts),)."""
    from unsupervised.divergences import js_divergence

    q0 = q(x)
    return np.array([js_divergence(q0, q(x - t), dx) for t in shifts])


@validate(
    f=Function("(theta) -> float"),
    mu=Real(),
    s=Real(low=0, low_open=True),
    h=Real(low=0, low_open=True),
)
def gradients_two_ways(f, mu, s, h=1e-4):
    """Central-difference gradients (``central_gradient``, step h) of f(theta), theta = (mu, log s)
    (GA10's erratum), at (mu, s): with respect to (mu, log s), and with respect to (mu, s) by
    differencing f((mu, log s)) afresh in s. Returns the two arrays of shape (2,); by the chain
    rule the second's s-component is the first's log s-component divided by s."""
    g_log = central_gradient(f, np.array([mu, math.log(s)]), h=h)
    g_s = central_gradient(lambda t: f([t[0], math.log(t[1])]), np.array([mu, s]), h=h)
    return g_log, g_s


@validate(
    d_logit=Function("(x) -> logits"),
    weights=Array(ndim=1),
    means=Array(ndim=1),
    stds=Array(ndim=1),
    mu=Real(),
    s=Real(low=0, low_open=True),
    n=Integer(minimum=2),
    seed=Integer(minimum=0),
)
def monte_carlo_value(d_logit, weights, means, stds, mu, s, n=1_000_000, seed=4):
    """Monte Carlo estimate of GA4's V(D, G) = E_{p_r}[log D(x)] + E_z[log(1 - D(G(z)))] with
    D = sigmoid(d_logit), p_r the 1-D Gaussian mixture (weights, means, stds) and G(z) = mu + s z:
    n pairs drawn by ``np.random.default_rng(seed)`` (components, then x, then z), log-sigmoids
    by ``np.logaddexp``. Returns (estimate, its standard error)."""
    rng = np.random.default_rng(seed)
    comp = rng.choice(len(weights), size=n, p=weights)
    x = means[comp] + stds[comp] * rng.standard_normal(n)
    g = mu + s * rng.standard_normal(n)
    terms = -np.logaddexp(0, -d_logit(x)) - np.logaddexp(0, d_logit(g))
    return terms.mean(), terms.std(ddof=1) / math.sqrt(n)


@validate(x=Array(ndim=1), dx=Real(low=0, low_open=True), hb=Real(low=0, low_open=True))
def touching_boxes(x, dx, hb=0.05):
    """GA7's erratum: U[0, 2] against U[theta, theta + 2] on the grid x (half-open cells, width
    dx). Returns JS(U[0,2] || U[2,4]) (``js_divergence``, nats) and the left and right
    difference quotients, step hb, of L(theta) = 2 JS - 2 log 2 at theta = 2."""
    from unsupervised.divergences import js_divergence

    def box(lo):
        return np.where((x >= lo - 1e-9) & (x < lo + 2 - 1e-9), 0.5, 0.0)

    def L(t):
        return 2 * js_divergence(box(0.0), box(t), dx) - 2 * math.log(2.0)

    js_touch = js_divergence(box(0.0), box(2.0), dx)
    return js_touch, (L(2.0) - L(2.0 - hb)) / hb, (L(2.0 + hb) - L(2.0)) / hb


@validate(f=Function("(x) -> float"), lo=Real(), hi=Real(), points=Array(ndim=1))
def fine_quad(f, lo, hi, points):
    """``scipy.integrate.quad`` of f over [lo, hi] at the chapter's accuracy (GA6, GA9): break
    points ``points`` (the modes, where the integrand bends), up to 200 subintervals,
    absolute and relative tolerances 1e-13. Returns the integral."""
    from scipy import integrate

    return integrate.quad(f, lo, hi, points=points, limit=200, epsabs=1e-13, epsrel=1e-13)[0]


@validate(f=Function("(t) -> float"), x0=Array(ndim=1))
def nelder_mead(f, x0) -> np.ndarray:
    """The minimiser of f from x0 by SciPy's Nelder-Mead with xatol 1e-8, fatol 1e-14 and at
    most 4000 iterations (GA10's two optima, located to ~1e-7)."""
    from scipy import optimize

    opts = dict(xatol=1e-8, fatol=1e-14, maxiter=4000)
    return optimize.minimize(f, x0, method="Nelder-Mead", options=opts).x


@validate(G=Instance(nn.Module), D=Instance(nn.Module), z=Tensor(ndim=2))
def dcgan_rows(G: nn.Module, D: nn.Module, z: torch.Tensor):
    """GA11's table of layers: ``layer_table`` of the generator G on z (B, latent) and of the
    discriminator D on G(z), as rows (network "G"/"D", layer, type, output H x W x C,
    parameters with thousands separators), each network headed by its input row. Returns
    (rows, G's layer_table, D's layer_table)."""
    g_rows = layer_table(G, z)
    with torch.no_grad():
        images = G(z.to(next(G.parameters()).dtype))
    d_rows = layer_table(D, images)
    c, h, w = images.shape[1:]
    rows = [("G", "input", "z", f"1x1x{z.shape[1]}", "")]
    rows += [("G", *r[:3], f"{r[3]:,}") for r in g_rows]
    rows += [("D", "input", "image", f"{h}x{w}x{c}", "")]
    rows += [("D", *r[:3], f"{r[3]:,}") for r in d_rows]
    return rows, g_rows, d_rows
