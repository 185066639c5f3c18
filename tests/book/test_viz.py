"""The ImageNet figures the book plots: the slides' values where the slides quote them."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from cnncourse.book import viz


def test_ilsvrc_errors_use_the_slides_values():
    errors = {year: entry[1] for year, entry in viz.ILSVRC_TOP5_ERROR.items()}
    assert sorted(errors) == [2010, 2011, 2012, 2013, 2014, 2015]
    # "6.67% (vs. 16.4%)": GoogLeNet (2014) against AlexNet (2012), as the slide writes them.
    assert errors[2014] == 6.67
    assert errors[2012] == 16.4
    by_year = [errors[year] for year in sorted(errors)]
    assert by_year == sorted(by_year, reverse=True)
    assert errors[2015] < viz.HUMAN_TOP5_ERROR < errors[2014]


def test_imagenet_plot_labels_every_year_with_its_error():
    fig = viz.plot_imagenet_errors()
    texts = [t.get_text() for t in fig.axes[0].texts]
    for name, error, _ in viz.ILSVRC_TOP5_ERROR.values():
        assert f"{error:g}%\n{name}" in texts


def test_the_palette_is_okabe_ito_and_every_figure_uses_it():
    # Okabe & Ito (2008), "Color Universal Design", Fig. 16: the eight colours in sRGB
    published = {
        "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"
    }  # fmt: skip
    cycle = [c.upper() for c in matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]]
    assert set(cycle) == published, cycle
    fig = viz.new_figure()
    (line,) = fig.subplots().plot([0, 1])
    assert line.get_color().upper() == cycle[0]


def _viz_figures():
    rng = np.random.default_rng(0)
    return {
        "show_images": viz.show_images(rng.random((3, 5, 5)), titles=["a", "b", "c"]),
        "plot_imagenet_errors": viz.plot_imagenet_errors(),
        "annotate_matrix": viz.annotate_matrix(
            viz.new_figure().subplots(), np.eye(3), title="I"
        ).figure,
        "plot_windows": viz.plot_windows(7, 3, 2, pad=1),
    }


@pytest.mark.parametrize("name", sorted(_viz_figures()))
def test_viz_figures_have_legible_text_and_axis_titles(name):
    problems = viz.legibility_problems(_viz_figures()[name])
    assert not problems, f"{name}: {problems}"


def test_legibility_check_flags_small_text_and_missing_axis_titles():
    fig = viz.new_figure()
    ax = fig.subplots()
    ax.plot([0, 1])
    ax.set_title("tiny", fontsize=viz.MIN_FONT_PT - 2)
    ax.set_xlabel("x")
    problems = viz.legibility_problems(fig)
    assert problems == [
        f"'tiny' is {viz.MIN_FONT_PT - 2:g} pt (minimum {viz.MIN_FONT_PT})",
        "axes 'tiny': no y-axis title",
    ], problems
