"""cnncourse.book.transfer: the book's offline transfer-learning experiment."""

import pytest
import torch
from torch import nn

from cnncourse import models, optim, train
from cnncourse.book.transfer import (
    class_subset,
    few_per_class,
    freeze,
    last_linear,
    replace_head,
    transfer_comparison,
    transfer_experiment,
)


def test_class_subset_selects_and_relabels_in_given_order():
    x = torch.arange(10.0).view(10, 1)
    y = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    xs, ys = class_subset(x, y, (7, 2))
    assert xs.flatten().tolist() == [2.0, 7.0]
    assert ys.tolist() == [1, 0]  # 7 -> 0, 2 -> 1, in the order given
    with pytest.raises(ValueError, match="does not occur"):
        class_subset(x, y, (11,))
    with pytest.raises(ValueError, match="distinct"):
        class_subset(x, y, (1, 1))
    with pytest.raises(ValueError, match="same length"):
        class_subset(x[:3], y, (1,))


def test_few_per_class_balanced_and_seeded():
    y = torch.arange(5).repeat_interleave(30)
    x = torch.arange(150.0)
    xs, ys = few_per_class(x, y, 4, seed=3)
    assert torch.bincount(ys).tolist() == [4] * 5
    assert torch.equal(y[xs.long()], ys)  # the images keep their labels
    again = few_per_class(x, y, 4, seed=3)[0]
    assert torch.equal(xs, again)
    assert not torch.equal(xs, few_per_class(x, y, 4, seed=4)[0])
    with pytest.raises(ValueError, match="only 30"):
        few_per_class(x, y, 31)


def test_replace_head_and_last_linear():
    model = models.lenet5()
    name = last_linear(model)
    old = model.get_submodule(name)
    assert old.out_features == 10
    assert replace_head(model, 3, seed=0) == name
    new = model.get_submodule(name)
    assert new is not old and (new.in_features, new.out_features) == (old.in_features, 3)
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"no nn\.Linear"):
        last_linear(nn.Sequential(nn.ReLU()))


def test_frozen_body_does_not_move_while_head_trains():
    torch.manual_seed(0)
    model = models.lenet5(num_classes=4)
    head = replace_head(model, 2, seed=1)
    names = freeze(model, [head])
    assert names == [f"{head}.weight", f"{head}.bias"]
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x, y = torch.randn(40, 1, 32, 32), torch.randint(0, 2, (40,))
    train.fit(
        model,
        (x, y),
        None,
        optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1),
        1,
        batch_size=10,
        progress=False,
        device="cpu",
    )
    for n, p in model.named_parameters():
        moved = not torch.equal(before[n], p.detach())
        assert moved == (n in names), n
    with pytest.raises(ValueError, match="no parameter"):
        freeze(model, ["nonexistent"])


@pytest.mark.slow
def test_experiment_runs_on_small_data_and_uses_a_tenth_of_the_rate():
    g = torch.Generator().manual_seed(0)
    # 4 classes of synthetic 32x32 images, each class a bright square at a different place
    y = torch.arange(4).repeat(30)
    x = 0.1 * torch.rand(len(y), 1, 32, 32, generator=g)
    for k in range(4):
        x[y == k, :, 4 + 6 * k : 10 + 6 * k, 4 + 6 * k : 10 + 6 * k] += 1.0
    split = ((x[:80], y[:80]), (x[80:], y[80:]))
    result = transfer_experiment(
        (0, 1),
        (2, 3),
        per_class=5,
        pretrain_epochs=2,
        finetune_epochs=2,
        lr=0.01,
        lr_ratio=0.1,
        optimizer="momentum",
        data=split,
        seed=0,
    )
    assert set(result.histories) == {
        "pretrain",
        "fine-tune head (body frozen)",
        "fine-tune all layers",
        "from scratch",
    }
    assert result.histories["pretrain"].lr[0] == pytest.approx(0.01)
    assert result.histories["fine-tune head (body frozen)"].lr[0] == pytest.approx(0.001)
    assert result.histories["fine-tune all layers"].lr[0] == pytest.approx(0.001)
    assert result.histories["from scratch"].lr[0] == pytest.approx(0.01)
    assert len(result.trainable["fine-tune head (body frozen)"]) == 2
    assert len(result.trainable["fine-tune all layers"]) == len(result.trainable["from scratch"])
    assert all(0.0 <= a <= 1.0 for a in result.test_acc.values())
    assert "test accuracy" in result.summary()
    with pytest.raises(ValueError, match="must differ"):
        transfer_experiment((0, 1), (1, 2), data=split)
    with pytest.raises(ValueError, match="lr_ratio"):
        transfer_experiment((0,), (1,), lr_ratio=0, data=split)


def _squares(n_per_class=30):
    """4 classes of synthetic 32x32 images, each class a bright square at a different place."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(4).repeat(n_per_class)
    x = 0.1 * torch.rand(len(y), 1, 32, 32, generator=g)
    for k in range(4):
        x[y == k, :, 4 + 6 * k : 10 + 6 * k, 4 + 6 * k : 10 + 6 * k] += 1.0
    cut = len(y) * 2 // 3
    return ((x[:cut], y[:cut]), (x[cut:], y[cut:]))


def test_comparison_reports_every_run_for_every_size_and_seed():
    table = transfer_comparison(
        (2, 5),
        seeds=[0, 1],
        pretrain_classes=(0, 1),
        finetune_classes=(2, 3),
        pretrain_epochs=1,
        finetune_epochs=1,
        lr=0.01,
        optimizer="momentum",
        data=_squares(),
    )
    assert set(table) == {2, 5}
    for runs in table.values():
        assert set(runs) == {
            "pretrained (on its own classes)",
            "fine-tune head (body frozen)",
            "fine-tune all layers",
            "from scratch",
        }
        assert all(len(accs) == 2 and all(0 <= a <= 1 for a in accs) for accs in runs.values())


def test_comparison_pretrains_once_per_seed_and_reuses_it_for_every_size():
    table = transfer_comparison(
        (2, 5),
        seeds=[0],
        pretrain_classes=(0, 1),
        finetune_classes=(2, 3),
        pretrain_epochs=1,
        finetune_epochs=1,
        lr=0.01,
        optimizer="momentum",
        data=_squares(),
    )
    pretrained = [table[n]["pretrained (on its own classes)"] for n in (2, 5)]
    assert pretrained[0] == pretrained[1], "the same pretrained network for both sizes"


def test_comparison_with_finetune_steps_gives_small_sets_as_many_updates():
    data = _squares()
    first = transfer_experiment(
        (0, 1),
        (2, 3),
        per_class=2,
        pretrain_epochs=1,
        finetune_epochs=4,
        finetune_batch_size=4,
        lr=0.01,
        optimizer="momentum",
        data=data,
        curves=True,
    )
    # 2 images x 2 classes in batches of 4: one step per epoch, so 4 steps need 4 epochs
    assert len(first.histories["from scratch"]) == 4
    table = transfer_comparison(
        (2,),
        seeds=[0],
        pretrain_classes=(0, 1),
        finetune_classes=(2, 3),
        pretrain_epochs=1,
        finetune_steps=4,
        lr=0.01,
        optimizer="momentum",
        data=data,
    )
    assert table[2]["from scratch"] == [first.test_acc["from scratch"]]


def test_comparison_refuses_no_sizes_and_a_non_positive_step_count():
    with pytest.raises(ValueError, match="per_class"):
        transfer_comparison((), data=_squares())
    with pytest.raises(ValueError, match="finetune_steps"):
        transfer_comparison((2,), finetune_steps=0, data=_squares())
