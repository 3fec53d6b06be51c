"""unsupervised.plotting: the animation player a page shows without a third party."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib import animation

from unsupervised.plotting import animation_html


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
