"""Small figure helpers shared by the chapters.

Figure text must not contain CJK characters (Colab has no CJK font): labels here are
English or math, and callers should keep it that way.
"""

from __future__ import annotations

import re

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import Animation
from matplotlib.axes import Axes
from matplotlib.colors import Colormap

from ._validation import (
    Array,
    Choice,
    Constraint,
    Flag,
    Instance,
    Integer,
    Optional,
    Sizes,
    validate,
)

__all__ = ["use_book_style", "plot_density_1d", "image_grid", "animation_html"]


class _ColourMap(Constraint):
    """A matplotlib colour map: a registered name ("gray", "RdBu_r", ...) or a Colormap."""

    expected = "a matplotlib colour map name (such as 'gray' or 'RdBu_r') or a Colormap"

    def check(self, value, name):
        if isinstance(value, Colormap):
            return value
        if not isinstance(value, str) or value not in mpl.colormaps:
            self.fail(value, name)
        return value

    def bad_values(self):
        return ["no such colour map", 3, None]


def use_book_style() -> None:
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


@validate(
    ax=Instance(Axes),
    grid=Array(ndim=(1, 2)),
    densities=Instance(dict),
    samples=Optional(Array(ndim=(1, 2))),
    true_density=Optional(Array(ndim=(1, 2))),
)
def plot_density_1d(
    ax: Axes,
    grid: np.ndarray,
    densities: dict[str, np.ndarray],
    samples: np.ndarray | None = None,
    true_density: np.ndarray | None = None,
) -> Axes:
    """Plot 1-D density curves on a common grid.

    Parameters
    ----------
    ax : matplotlib Axes
    grid : array of shape (G,) or (G, 1), the x values
    densities : dict mapping a legend label to an array of shape (G,) (or (G, 1)): finite
        values or +inf (a kNN estimate at a training point), no NaN
    samples : array of shape (N,) or (N, 1), optional; drawn as a rug at y = 0
    true_density : array of shape (G,), optional; drawn as a black dashed line "true p(x)"

    Returns
    -------
    ax
    """
    grid = _column(grid, "grid")
    curves = {}
    for label, values in densities.items():
        where = f"densities[{label!r}]"
        curves[label] = _column(Array(ndim=(1, 2), finite=False).check(values, where), where)
        if curves[label].shape != grid.shape or np.any(np.isnan(curves[label])):
            raise ValueError(
                f"{where} must be an array of G = {grid.size} numbers (no NaN), one per grid "
                f"point; got shape {curves[label].shape}"
            )
    if true_density is not None:
        true_density = _column(true_density, "true_density")
        if true_density.shape != grid.shape or np.any(np.isnan(true_density)):
            raise ValueError(
                f"true_density must be an array of G = {grid.size} numbers (no NaN); "
                f"got shape {true_density.shape}"
            )
        ax.plot(grid, true_density, "k--", lw=1.5, label="true p(x)")
    for label, values in curves.items():
        ax.plot(grid, values, label=label)
    if samples is not None:
        s = _column(samples, "samples")
        ax.plot(s, np.zeros_like(s), "|", color="0.3", ms=10, alpha=0.6, label="samples")
    ax.set_xlabel("x")
    ax.set_ylabel("p(x)")
    ax.legend()
    return ax


def _column(values, name):
    """A (G,) or (G, 1) array as shape (G,), or ValueError naming ``name``."""
    if values.ndim == 2 and values.shape[1] != 1:
        raise ValueError(f"{name} must have shape (G,) or (G, 1); got shape {values.shape}")
    return values.reshape(-1)


_IMAGE_SHAPES = (
    "(N, H, W) grey images, (N, H, W, C) with C = 1, 3 (RGB) or 4 (RGBA) channels, or "
    "(N, D) flattened images with shape=(H, W) (shape may be left out when D is a perfect "
    "square and N != D); one image of shape (H, W) as image[None]"
)


def _as_image_stack(images, shape):
    """``images`` as an array (N, H, W) or (N, H, W, C), or ValueError saying what to pass."""
    if images.ndim == 2:
        n, D = images.shape
        if shape is None:
            side = int(round(np.sqrt(D)))
            if n == D:  # one D x D image, or D flattened images of side sqrt(D)?
                raise ValueError(
                    f"images of shape {images.shape} are ambiguous: pass one image as "
                    f"image[None] (shape (1, {n}, {D})), or N flattened images with "
                    f"shape=(H, W); accepted: {_IMAGE_SHAPES}"
                )
            if side * side != D:
                raise ValueError(
                    f"shape is needed: a row of {D} pixels is not a square image; pass "
                    f"shape=(H, W), or one image of shape (H, W) as image[None]"
                )
            shape = (side, side)
        if shape[0] * shape[1] != D:
            raise ValueError(f"shape {shape} does not hold the {D} pixels of a row of images")
        return images.reshape(n, *shape)
    if shape is not None and images.shape[1:3] != shape:
        raise ValueError(f"shape {shape} does not match the images' (H, W) = {images.shape[1:3]}")
    if images.ndim == 4:
        if images.shape[3] not in (1, 3, 4):
            raise ValueError(
                f"images of shape {images.shape} have {images.shape[3]} channels; accepted: "
                f"{_IMAGE_SHAPES}"
            )
        if images.shape[3] == 1:
            return images[..., 0]
    return images


@validate(
    images=Array(ndim=(2, 3, 4)),
    shape=Optional(Sizes(min_len=2, minimum=1)),
    ncols=Integer(minimum=1),
    ax=Optional(Instance(Axes)),
    cmap=_ColourMap(),
    per_image=Flag(),
    pad=Integer(minimum=0),
)
def image_grid(
    images: np.ndarray,
    shape: tuple[int, int] | None = None,
    ncols: int = 10,
    ax: Axes | None = None,
    cmap: str | Colormap = "gray",
    per_image: bool = False,
    pad: int = 1,
) -> Axes:
    """Tile images into one picture (digits, dictionary atoms, decoder samples).

    Parameters
    ----------
    images : the images, one of
        - (N, H, W): N grey images (values mapped through ``cmap``);
        - (N, H, W, C), C = 1 (grey), 3 (RGB) or 4 (RGBA): colour images;
        - (N, D): N flattened images of shape ``shape`` = (H, W) with H W = D, row-major;
          ``shape`` may be left out when D is a perfect square (square images) and N != D.
        A 2-D array is never read as one image, and an (N, N) array without ``shape`` is
        refused as ambiguous: pass one image of shape (H, W) as ``image[None]``.
    shape : (H, W) of one image, for flattened images
    ncols : int >= 1, images per row
    ax : matplotlib Axes or None (a new figure is made)
    cmap : colour map (a name or a Colormap) for grey images
    per_image : bool, rescale each image to its own [min, max] (useful for atoms with
        arbitrary sign and scale); otherwise one colour scale for all (colour images:
        rescaled to [0, 1] together unless their values already lie in [0, 1])
    pad : int >= 0, pixels between images (drawn white)

    Returns
    -------
    ax
    """
    if shape is not None and len(shape) != 2:
        raise ValueError(f"shape must be (H, W), two integers; got {shape}")
    images = _as_image_stack(images, None if shape is None else tuple(shape))
    n, h, w = images.shape[:3]
    colour = images.ndim == 4
    axes = tuple(range(1, images.ndim))
    if per_image:
        lo = images.min(axis=axes, keepdims=True)
        span = images.max(axis=axes, keepdims=True) - lo
        images = (images - lo) / np.where(span > 0, span, 1.0)
    elif colour and (images.min() < 0 or images.max() > 1):
        span = images.max() - images.min()
        images = (images - images.min()) / (span if span > 0 else 1.0)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    # NaN padding shows white through the colour map; colour images get white (1) padding
    canvas = np.full(
        (nrows * (h + pad) - pad, ncols * (w + pad) - pad, *images.shape[3:]),
        1.0 if colour else np.nan,
    )
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = img
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * ncols + 0.4, 0.6 * nrows + 0.4))
    if colour:
        ax.imshow(canvas, interpolation="nearest")
    else:
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


@validate(anim=Instance(Animation), default_mode=Choice(("loop", "once", "reflect")))
def animation_html(anim: Animation, default_mode: str = "loop") -> str:
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
    html = anim.to_jshtml(default_mode=default_mode)
    html = _FONT_AWESOME_LINK.sub("", html)
    return _FONT_AWESOME_ICON.sub(_inline_icon, html)
