"""The ImageNet figures the book plots: the slides' values where the slides quote them."""

from __future__ import annotations

from cnncourse import viz


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
