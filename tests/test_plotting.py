"""unsupervised.plotting: the animation player a page shows without a third party, the image
grid's accepted shapes and what it draws, the density plot's checks."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib import animation

from unsupervised.plotting import animation_html, image_grid, plot_density_1d


@pytest.fixture
def anim():
    fig, ax = plt.subplots(figsize=(1, 1), dpi=20)
    (line,) = ax.plot([0, 1], [0, 1])
    anim = animation.FuncAnimation(fig, lambda i: (line.set_ydata([0, i]),), frames=3)
    yield anim
    plt.close(fig)


def test_matplotlib_player_fetches_font_awesome(anim):
    # The reference this module works around: if matplotlib stops linking the CDN, the
    # rewriting in animation_html can go.
    assert "font-awesome" in anim.to_jshtml()


def test_animation_html_requests_nothing_from_a_third_party(anim):
    html = animation_html(anim)
    # Frames are data: URIs; any scheme://host would be a request leaving the page.
    assert "://" not in html
    assert "font-awesome" not in html and 'class="fa ' not in html
    # Every one of the nine buttons keeps an icon, drawn inline.
    assert html.count("<button") == 9
    assert html.count("<svg") == 9


def test_animation_html_rejects_an_unknown_mode(anim):
    with pytest.raises(ValueError, match="default_mode"):
        animation_html(anim, default_mode="bounce")
    with pytest.raises(ValueError, match="^anim "):
        animation_html(anim.to_jshtml())
    assert "<svg" in animation_html(anim, default_mode="reflect")


# --------------------------------------------------------------------------- image_grid
@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def drawn(ax):
    """The canvas image_grid gave to imshow."""
    return np.asarray(ax.images[-1].get_array(), dtype=np.float64)


def tiles_by_hand(images, ncols, pad):
    """The tiled canvas written out: image i at row i // ncols, column i % ncols, NaN between."""
    n, h, w = images.shape[:3]
    nrows = -(-n // ncols)
    canvas = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), np.nan)
    for i in range(n):
        r, c = i // ncols, i % ncols
        for y in range(h):
            for x in range(w):
                canvas[r * (h + pad) + y, c * (w + pad) + x] = images[i, y, x]
    return canvas


def test_image_grid_tiles_flat_square_images_row_major(ax):
    images = np.arange(5 * 9, dtype=np.float64).reshape(5, 9)  # five 3 x 3 images
    image_grid(images, ncols=2, ax=ax, pad=1)
    np.testing.assert_array_equal(drawn(ax), tiles_by_hand(images.reshape(5, 3, 3), 2, 1))


def test_image_grid_takes_an_explicit_shape_and_three_d_stacks(ax):
    images = np.random.default_rng(0).random((4, 2, 6))
    image_grid(images.reshape(4, 12), shape=(2, 6), ncols=4, ax=ax, pad=0)
    np.testing.assert_array_equal(drawn(ax), tiles_by_hand(images, 4, 0))
    image_grid(images, ncols=3, ax=ax)
    np.testing.assert_array_equal(drawn(ax), tiles_by_hand(images, 3, 1))


def test_image_grid_refuses_one_square_image_as_ambiguous(ax):
    # (64, 64) was cut into 64 tiles of 8 x 8 without a word.
    one_image = np.random.default_rng(1).random((64, 64))
    with pytest.raises(ValueError, match=r"^images .*ambiguous.*image\[None\]"):
        image_grid(one_image, ax=ax)
    image_grid(one_image[None], ax=ax)  # what the message says to pass: one 64 x 64 tile
    np.testing.assert_array_equal(drawn(ax), one_image)
    image_grid(one_image, shape=(8, 8), ax=ax)  # or the 64 flattened images, said explicitly
    assert drawn(ax).shape == (7 * 9 - 1, 10 * 9 - 1)


@pytest.mark.parametrize(
    ("images", "kwargs", "match"),
    [
        (np.zeros((5, 28)), {}, r"^shape is needed"),
        (np.zeros((5, 64)), {"shape": (4, 4)}, r"^shape \(4, 4\) does not hold"),
        (np.zeros((5, 8, 8)), {"shape": (4, 16)}, r"^shape \(4, 16\) does not match"),
        (np.zeros((5, 64)), {"shape": (8, 8, 1)}, r"^shape must be \(H, W\)"),
        (np.zeros((5, 8, 8, 2)), {}, r"^images .*2 channels"),
        (np.zeros(64), {}, r"^images "),
        (np.full((5, 64), np.nan), {}, r"^images "),
        (np.zeros((5, 64)), {"cmap": "no such map"}, r"^cmap "),
        (np.zeros((5, 64)), {"ncols": 0}, r"^ncols "),
        (np.zeros((5, 64)), {"per_image": "False"}, r"^per_image "),
    ],
)
def test_image_grid_refusals_say_what_to_pass(ax, images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_grid(images, ax=ax, **kwargs)


def test_image_grid_draws_colour_images_and_reads_tensors(ax):
    import torch

    rgb = np.random.default_rng(2).random((3, 4, 5, 3))
    image_grid(rgb, ncols=3, ax=ax, pad=1)
    canvas = drawn(ax)
    assert canvas.shape == (4, 3 * 6 - 1, 3)
    np.testing.assert_array_equal(canvas[:, 6:11], rgb[1])
    np.testing.assert_array_equal(canvas[:, 5], 1.0)  # white padding
    grey = torch.rand(3, 16, requires_grad=True)
    image_grid(grey, ax=ax)
    np.testing.assert_array_equal(
        drawn(ax)[:4, :4], grey.detach().double().numpy()[0].reshape(4, 4)
    )


def test_image_grid_per_image_rescales_each_image_to_0_1(ax):
    images = np.stack([np.linspace(-3, 5, 4), np.linspace(10, 11, 4)])  # two 2 x 2 images
    image_grid(images, ax=ax, per_image=True, pad=0)
    expected = (images - images.min(axis=1, keepdims=True)) / np.ptp(images, axis=1, keepdims=True)
    np.testing.assert_allclose(drawn(ax), np.hstack([e.reshape(2, 2) for e in expected]))


# --------------------------------------------------------------------------- plot_density_1d
def test_plot_density_1d_draws_every_curve_and_checks_each_length(ax):
    grid = np.linspace(0, 1, 5)
    plot_density_1d(ax, grid, {"a": grid**2, "b": grid.reshape(-1, 1)}, samples=[0.5])
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["a", "b", "samples"]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), grid**2)
    with pytest.raises(ValueError, match=r"^densities\['c'\] "):
        plot_density_1d(ax, grid, {"c": grid[:3]})
    with pytest.raises(ValueError, match=r"^densities "):
        plot_density_1d(ax, grid, [grid])
    with pytest.raises(ValueError, match=r"^true_density "):
        plot_density_1d(ax, grid, {}, true_density=grid[:4])
