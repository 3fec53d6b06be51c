"""Small figure helpers shared by the chapters.

Figure text must not contain CJK characters (Colab has no CJK font): labels here are
English or math, and callers should keep it that way.
"""

from __future__ import annotations

import re

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["use_book_style", "plot_density_1d", "image_grid", "animation_html"]


def use_book_style():
    """Set a readable matplotlib style for the book: opaque white backgrounds, light grid,
    no top/right spines, slightly larger fonts. Changes ``matplotlib.rcParams`` globally."""
    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "savefig.transparent": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 11,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "legend.fontsize": 10,
            "legend.frameon": False,
            "lines.linewidth": 1.8,
            "image.cmap": "viridis",
        }
    )


def plot_density_1d(ax, grid, densities, samples=None, true_density=None):
    """Plot 1-D density curves on a common grid.

    Parameters
    ----------
    ax : matplotlib Axes
    grid : array of shape (G,), the x values
    densities : dict mapping a legend label to an array of shape (G,)
    samples : array of shape (N,) or (N, 1), optional; drawn as a rug at y = 0
    true_density : array of shape (G,), optional; drawn as a black dashed line "true p(x)"

    Returns
    -------
    ax
    """
    grid = np.asarray(grid, dtype=np.float64).ravel()
    if true_density is not None:
        ax.plot(grid, np.asarray(true_density).ravel(), "k--", lw=1.5, label="true p(x)")
    for label, values in densities.items():
        values = np.asarray(values).ravel()
        if values.shape != grid.shape:
            raise ValueError(
                f"densities[{label!r}] must have the shape of grid {grid.shape}; got {values.shape}"
            )
        ax.plot(grid, values, label=label)
    if samples is not None:
        s = np.asarray(samples, dtype=np.float64).ravel()
        ax.plot(s, np.zeros_like(s), "|", color="0.3", ms=10, alpha=0.6, label="samples")
    ax.set_xlabel("x")
    ax.set_ylabel("p(x)")
    ax.legend()
    return ax


def image_grid(images, shape=None, ncols=10, ax=None, cmap="gray", per_image=False, pad=1):
    """Tile images into one picture (digits, dictionary atoms, decoder samples).

    Parameters
    ----------
    images : array of shape (n, h*w) or (n, h, w)
    shape : (h, w) of one image; needed for flat images unless h*w is a perfect square
    ncols : int, images per row
    ax : matplotlib Axes or None (a new figure is made)
    cmap : colour map
    per_image : bool, rescale each image to its own [min, max] (useful for atoms with
        arbitrary sign and scale); otherwise one colour scale for all
    pad : int, pixels between images (drawn white)

    Returns
    -------
    ax
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 2:
        if shape is None:
            side = int(round(np.sqrt(images.shape[1])))
            if side * side != images.shape[1]:
                raise ValueError(f"shape is needed: {images.shape[1]} pixels is not a square")
            shape = (side, side)
        images = images.reshape(images.shape[0], *shape)
    if images.ndim != 3 or images.shape[0] < 1:
        raise ValueError(f"images must have shape (n, h*w) or (n, h, w); got {images.shape}")
    n, h, w = images.shape
    if per_image:
        lo = images.min(axis=(1, 2), keepdims=True)
        span = images.max(axis=(1, 2), keepdims=True) - lo
        images = (images - lo) / np.where(span > 0, span, 1.0)
    ncols = max(1, min(int(ncols), n))
    nrows = int(np.ceil(n / ncols))
    canvas = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = img
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * ncols + 0.4, 0.6 * nrows + 0.4))
    colours = plt.get_cmap(cmap).with_extremes(bad="white")  # NaN padding shows white
    ax.imshow(canvas, cmap=colours, interpolation="nearest")
    ax.set_axis_off()
    return ax


# The player's buttons, drawn inline (16 x 16 user units, in the text colour). matplotlib's
# HTML player draws them with Font Awesome 4 loaded from a CDN instead: every reader's
# browser would contact that third party, and offline the buttons would be blank.
_ICON_SHAPES = {
    "minus": '<rect x="2" y="7" width="12" height="2"/>',
    "plus": '<rect x="2" y="7" width="12" height="2"/><rect x="7" y="2" width="2" height="12"/>',
    "play": '<polygon points="4,2 14,8 4,14"/>',
    "play fa-flip-horizontal": '<polygon points="12,2 2,8 12,14"/>',
    "pause": '<rect x="3" y="2" width="4" height="12"/><rect x="9" y="2" width="4" height="12"/>',
    "step-forward": '<polygon points="3,2 11,8 3,14"/><rect x="11" y="2" width="2" height="12"/>',
    "step-backward": '<rect x="3" y="2" width="2" height="12"/><polygon points="13,2 5,8 13,14"/>',
    "fast-forward": '<polygon points="1,2 7,8 1,14"/><polygon points="7,2 13,8 7,14"/>'
    '<rect x="13" y="2" width="2" height="12"/>',
    "fast-backward": '<rect x="1" y="2" width="2" height="12"/><polygon points="9,2 3,8 9,14"/>'
    '<polygon points="15,2 9,8 15,14"/>',
}
_FONT_AWESOME_LINK = re.compile(r"<link[^>]*font-awesome[^>]*>\s*", re.IGNORECASE)
_FONT_AWESOME_ICON = re.compile(r'<i class="fa fa-([a-z-]+(?: fa-flip-horizontal)?)"></i>')


def _inline_icon(match: re.Match) -> str:
    shape = _ICON_SHAPES.get(match.group(1))
    if shape is None:  # an icon a later matplotlib added: its title still names the button
        return ""
    return (
        '<svg viewBox="0 0 16 16" width="1em" height="1em" fill="currentColor" '
        f'aria-hidden="true" style="vertical-align: -0.125em">{shape}</svg>'
    )


def animation_html(anim, default_mode: str = "loop") -> str:
    """An animation as a self-contained HTML player (frames embedded, nothing fetched).

    ``anim.to_jshtml`` with the Font Awesome stylesheet link removed and its icons drawn
    as inline SVG, so that the page (the book, Colab, Jupyter) requests nothing from a
    third party. Display it with ``IPython.display.HTML``.

    Parameters
    ----------
    anim : matplotlib.animation.Animation
    default_mode : "loop", "once" or "reflect", as in ``to_jshtml``

    Returns
    -------
    str, the HTML of the player
    """
    if default_mode not in ("loop", "once", "reflect"):
        raise ValueError(f"default_mode must be 'loop', 'once' or 'reflect'; got {default_mode!r}")
    html = anim.to_jshtml(default_mode=default_mode)
    html = _FONT_AWESOME_LINK.sub("", html)
    return _FONT_AWESOME_ICON.sub(_inline_icon, html)
