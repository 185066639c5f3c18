"""cnncourse.book.experiments: the book's multi-seed comparisons and babysitting measurements."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from cnncourse.book.experiments import (
    activation_race,
    batches,
    deep_mlp,
    dropout_run,
    epochs_to_error,
    noisy_labels,
    spread,
    training_losses,
    update_ratios,
)


def _blobs(n_per_class=20, classes=3, dim=64, seed=0):
    """Well separated Gaussian blobs, shaped like the flattened 8x8 digits."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(classes).repeat_interleave(n_per_class)
    centres = 4.0 * torch.randn(classes, dim, generator=g)
    x = centres[y] + 0.1 * torch.randn(len(y), dim, generator=g)
    return (x, y), (x.clone(), y.clone())


def test_spread_is_the_mean_and_sample_standard_deviation():
    values = [0.81, 0.84, 0.79, 0.90, 0.86]
    s = spread(values)
    assert s.mean == pytest.approx(np.mean(values), abs=1e-12)
    assert s.std == pytest.approx(np.std(values, ddof=1), abs=1e-12)
    assert s.format(".2f") == f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}"


def test_spread_of_one_value_has_no_spread():
    assert spread([3.0]).std == 0.0


@pytest.mark.parametrize("values", [[], [1.0, math.nan], [math.inf]])
def test_spread_refuses_empty_or_non_finite_values(values):
    with pytest.raises(ValueError, match="spread needs"):
        spread(values)


@pytest.mark.parametrize(("activation", "gain"), [("relu", 2.0), ("tanh", 1.0), ("sigmoid", 1.0)])
def test_deep_mlp_draws_weights_with_the_recommended_variance(activation, gain):
    net = deep_mlp(activation, depth=2, width=2000, inputs=500, seed=0)
    first = net[0].weight.detach()
    expected = math.sqrt(gain / 500)
    assert first.std().item() == pytest.approx(expected, rel=0.01), (activation, expected)
    assert torch.count_nonzero(net[0].bias) == 0
    kinds = [type(m).__name__ for m in net]
    assert kinds.count("Linear") == 3, kinds


def test_deep_mlp_refuses_an_unknown_activation():
    with pytest.raises(ValueError, match="activation must be one of"):
        deep_mlp("softplus", depth=2, width=4)


def test_epochs_to_error_counts_the_epochs_of_a_separable_problem():
    epochs = epochs_to_error("relu", depth=2, width=16, data=_blobs(), max_epochs=20)
    assert epochs is not None and 1 <= epochs <= 20, epochs


def test_epochs_to_error_is_none_when_the_target_is_not_reached():
    assert (
        epochs_to_error("sigmoid", depth=2, width=4, target_error=0.0, max_epochs=1, data=_blobs())
        is None
    )


def test_activation_race_runs_every_activation_with_the_same_seeds():
    race = activation_race(
        ("relu", "tanh"), seeds=[0, 1], depth=2, width=8, max_epochs=3, data=_blobs()
    )
    assert set(race) == {"relu", "tanh"} and all(len(v) == 2 for v in race.values())
    again = activation_race(
        ("relu", "tanh"), seeds=[0, 1], depth=2, width=8, max_epochs=3, data=_blobs()
    )
    assert race == again, "a seed must give the same run"


def test_noisy_labels_changes_exactly_that_fraction_to_other_classes():
    y = torch.arange(10).repeat(10)
    noisy = noisy_labels(y, 0.3, classes=10, seed=4)
    changed = noisy != y
    assert int(changed.sum()) == 30, int(changed.sum())
    assert bool(((noisy >= 0) & (noisy < 10)).all())
    assert torch.equal(y, torch.arange(10).repeat(10)), "the input is not modified"


def test_noisy_labels_refuses_a_fraction_of_one():
    with pytest.raises(ValueError, match="label_noise"):
        noisy_labels(torch.zeros(4, dtype=torch.long), 1.0, classes=2)


def test_dropout_run_reports_accuracies_and_loss_and_is_seeded():
    kwargs = dict(n_train=30, hidden=16, steps=20, data=_blobs(), seed=3)
    first = dropout_run(0.5, **kwargs)
    assert set(first) == {"train_acc", "test_acc", "test_loss"}
    assert 0 <= first["test_acc"] <= 1 and first["test_loss"] > 0
    assert dropout_run(0.5, **kwargs) == first


@pytest.mark.parametrize("keep", [0.0, 1.5])
def test_dropout_run_refuses_a_keep_probability_outside_0_1(keep):
    with pytest.raises(ValueError, match="keep_prob must be in"):
        dropout_run(keep, data=_blobs())


def test_batches_are_epochs_of_random_order_without_repeats():
    x, y = torch.arange(10.0), torch.arange(10)
    steps = batches(x, y, batch_size=3, steps=7, seed=0)
    assert len(steps) == 7 and all(len(bx) == 3 for bx, _ in steps)
    first_epoch = torch.cat([bx for bx, _ in steps[:3]])  # 3 full batches of 3 per epoch
    assert len(set(first_epoch.tolist())) == 9
    assert all(torch.equal(bx.long(), by) for bx, by in steps), "pairs stay together"


def test_training_losses_are_the_losses_before_each_update():
    (x, y), _ = _blobs()
    torch.manual_seed(0)
    model = nn.Linear(64, 3)
    reference = nn.Linear(64, 3)
    reference.load_state_dict(model.state_dict())
    steps = batches(x, y, batch_size=10, steps=3, seed=0)
    losses = training_losses(model, torch.optim.SGD(model.parameters(), lr=0.01), steps)
    opt = torch.optim.SGD(reference.parameters(), lr=0.01)
    for (bx, by), loss in zip(steps, losses, strict=True):
        expected = nn.functional.cross_entropy(reference(bx), by)
        assert loss == pytest.approx(expected.item(), rel=1e-6)
        opt.zero_grad()
        expected.backward()
        opt.step()


def test_training_losses_stop_at_the_first_non_finite_loss():
    (x, y), _ = _blobs()
    model = nn.Linear(64, 3)
    with torch.no_grad():
        model.weight.fill_(math.inf)
    losses = training_losses(model, torch.optim.SGD(model.parameters(), lr=0.1), [(x, y)] * 5)
    assert len(losses) == 1 and not math.isfinite(losses[0]), losses


def test_update_ratios_of_sgd_are_the_rate_times_the_gradient_over_the_weights():
    (x, y), _ = _blobs()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 3))
    copy = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 3))
    copy.load_state_dict(model.state_dict())
    nn.functional.cross_entropy(copy(x), y).backward()  # the oracle: autograd on a copy
    expected = {
        name: 0.05 * p.grad.norm().item() / p.detach().norm().item()
        for name, p in copy.named_parameters()
        if p.ndim >= 2
    }
    ratios = update_ratios(model, torch.optim.SGD(model.parameters(), lr=0.05), [(x, y)])
    assert set(ratios) == set(expected) == {"0.weight", "2.weight"}
    for name, value in expected.items():
        assert ratios[name][0] == pytest.approx(value, rel=1e-5), name
