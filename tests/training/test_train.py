"""cnncourse.train: the loop against a hand-written one, seeds, checkpoints, the CLI."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from cnncourse import optim, train

matplotlib.use("Agg")


def blobs(n=120, seed=0, dtype=torch.float64):
    """Three Gaussian blobs in 4-D: an easy 3-class problem."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    centres = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]], dtype=dtype)
    x = centres[y] + 0.5 * torch.randn(n, 4, generator=g, dtype=dtype)
    return x, y


def mlp(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype)


def quiet_fit(model, data, val=None, epochs=3, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("device", "cpu")
    opt = kw.pop("optimizer", None) or optim.SGDMomentum(model.parameters(), lr=0.1, dampening=0)
    return train.fit(model, data, val, opt, epochs, **kw)


def without_time(history):
    d = history.to_dict()
    d.pop("time")
    return d


# --------------------------------------------------------------------------- devices


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_auto_device_is_the_cpu_without_accelerators():
    if torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    assert train.select_device("auto") == torch.device("cpu")


def test_device_errors_are_clear():
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda"):
        train.select_device("tpu")
    with pytest.raises(TypeError, match=r"device must be a str or torch\.device, got int"):
        train.select_device(0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            train.select_device("cuda")


# --------------------------------------------------------------------------- the loop


def test_full_batch_fit_equals_hand_written_gradient_descent():
    """One batch per epoch: fit must be plain GD on the mean loss, history before each step."""
    x, y = blobs()
    model, reference = mlp(), mlp()
    history = quiet_fit(
        model, (x, y), epochs=5, batch_size=len(x), optimizer=optim.SGD(model.parameters(), lr=0.5)
    )
    losses = []
    for _ in range(5):
        loss = nn.functional.cross_entropy(reference(x), y)
        losses.append(loss.item())
        grads = torch.autograd.grad(loss, list(reference.parameters()))
        with torch.no_grad():
            for p, g in zip(reference.parameters(), grads, strict=True):
                p -= 0.5 * g
    assert history.train_loss == pytest.approx(losses, abs=1e-12), (
        f"{history.train_loss} vs {losses}"
    )
    for (name, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-12, rtol=0), f"{name} differs"


def test_minibatch_fit_learns_an_easy_problem():
    x, y = blobs(300)
    val = blobs(90, seed=1)
    history = quiet_fit(mlp(), (x, y), val, epochs=4, batch_size=16)
    assert history.epoch == [1, 2, 3, 4]
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_acc[-1] > 0.9, f"val accuracy {history.val_acc}"


def test_history_records_the_learning_rate_of_each_epoch():
    x, y = blobs()
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.StepDecayLR(opt, step_size=2, gamma=0.5)
    history = quiet_fit(model, (x, y), epochs=5, optimizer=opt, scheduler=sched)
    assert history.lr == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_train_accuracy_and_evaluate_agree_with_direct_computation():
    x, y = blobs()
    model = mlp()
    metrics = train.evaluate(model, (x, y), batch_size=7)
    with torch.no_grad():
        out = model(x)
    expected_loss = nn.functional.cross_entropy(out, y).item()
    expected_acc = (out.argmax(1) == y).double().mean().item()
    assert metrics.loss == pytest.approx(expected_loss, abs=1e-12)
    assert metrics.accuracy == pytest.approx(expected_acc, abs=1e-12)


def test_evaluate_gives_nan_accuracy_for_regression():
    x = torch.randn(10, 4, dtype=torch.float64)
    model = nn.Linear(4, 1).double()
    m = train.evaluate(model, (x, torch.zeros(10, 1, dtype=torch.float64)), loss_fn=nn.MSELoss())
    assert math.isnan(m.accuracy) and m.loss >= 0


def test_same_seed_same_history_different_seed_different_history():
    x, y = blobs()
    a = quiet_fit(mlp(), (x, y), blobs(30, seed=1), batch_size=10, seed=3)
    b = quiet_fit(mlp(), (x, y), blobs(30, seed=1), batch_size=10, seed=3)
    c = quiet_fit(mlp(), (x, y), blobs(30, seed=1), batch_size=10, seed=4)
    assert without_time(a) == without_time(b)
    assert a.train_loss != c.train_loss


def test_dropout_is_reproducible_under_the_seed():
    x, y = blobs()

    def model():
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Linear(4, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3)
        ).double()

    assert without_time(quiet_fit(model(), (x, y), batch_size=10)) == without_time(
        quiet_fit(model(), (x, y), batch_size=10)
    )


@pytest.mark.parametrize(
    "wrap",
    [
        lambda x, y: TensorDataset(x, y),
        lambda x, y: [(x[i], y[i]) for i in range(len(x))],  # a plain sequence dataset
    ],
    ids=["TensorDataset", "list"],
)
def test_datasets_give_the_same_result_as_tensors(wrap):
    x, y = blobs()
    data = wrap(x, y)
    if isinstance(data, list):
        data = _ListDataset(data)
    a = quiet_fit(mlp(), (x, y), batch_size=10)
    b = quiet_fit(mlp(), data, batch_size=10)
    assert a.train_loss == pytest.approx(b.train_loss, abs=1e-12)


class _ListDataset(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_a_dataloader_is_used_as_given():
    x, y = blobs()
    loader = DataLoader(TensorDataset(x, y), batch_size=len(x))
    model, reference = mlp(), mlp()
    quiet_fit(model, loader, epochs=2, optimizer=optim.SGD(model.parameters(), lr=0.5))
    quiet_fit(
        reference,
        (x, y),
        epochs=2,
        batch_size=len(x),
        optimizer=optim.SGD(reference.parameters(), lr=0.5),
    )
    assert torch.allclose(model[0].weight, reference[0].weight, atol=1e-12)


def test_transform_is_applied_to_training_batches_only_and_seeded():
    x, y = blobs()
    seen = []

    def record(batch, generator):
        seen.append(torch.rand(1, generator=generator).item())
        return batch + 0.01 * torch.randn(batch.shape, generator=generator, dtype=batch.dtype)

    quiet_fit(mlp(), (x, y), blobs(30, seed=1), epochs=2, batch_size=40, transform=record)
    first = list(seen)
    seen.clear()
    quiet_fit(mlp(), (x, y), blobs(30, seed=1), epochs=2, batch_size=40, transform=record)
    assert len(first) == 6, f"expected 3 training batches x 2 epochs, got {len(first)} calls"
    assert first == seen


def test_progress_bar_shows_epoch_loss_and_accuracy(capsys):
    x, y = blobs()
    quiet_fit(mlp(), (x, y), blobs(30, seed=1), epochs=2, batch_size=30, progress=True)
    err = capsys.readouterr().err
    for piece in ("epoch 1/2", "epoch 2/2", "loss=", "acc=", "val_acc="):
        assert piece in err, f"{piece!r} missing from the progress output:\n{err}"


def test_history_plot_draws_loss_and_accuracy():
    x, y = blobs()
    fig = quiet_fit(mlp(), (x, y), blobs(30, seed=1), epochs=2).plot()
    titles = [ax.get_ylabel() for ax in fig.axes]
    assert titles == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2  # train and validation


class Unsized(Dataset):
    """A map-style Dataset without __len__: fit cannot know its epoch."""

    def __getitem__(self, index):
        return torch.zeros(2, dtype=torch.float64), 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"epochs": -1}, ValueError, "epochs must be a whole number >= 0, got -1"),
        ({"batch_size": 0}, ValueError, "batch_size must be a whole number >= 1, got 0"),
        ({"resume": True}, ValueError, "resume=True needs a checkpoint path"),
        ({"amp": True}, ValueError, "amp=True needs a CUDA device"),
        ({"train": [1, 2, 3]}, TypeError, r"train as a tuple must be \(inputs, targets\)"),
        ({"train": "x.csv"}, TypeError, "train must be an .* got str"),
        (
            {"train": Unsized()},
            TypeError,
            r"train's dataset must have a length \(__len__\), got Unsized",
        ),
        ({"optimizer": 3}, TypeError, "optimizer must be a torch.optim.Optimizer"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, message):
    x, y = blobs()
    model = mlp()
    args = {"train": (x, y), "epochs": 1, "optimizer": optim.SGD(model.parameters())}
    args.update(kwargs)
    with pytest.raises(error, match=message):
        train.fit(
            model,
            args.pop("train"),
            None,
            args.pop("optimizer"),
            args.pop("epochs"),
            device="cpu",
            progress=False,
            **args,
        )


def test_mismatched_inputs_and_targets_are_refused():
    x, y = blobs()
    with pytest.raises(ValueError, match="train has 120 inputs but 119 targets"):
        quiet_fit(mlp(), (x, y[:-1]))


# --------------------------------------------------------------------------- checkpoints


def momentum_run(path, epochs, resume):
    x, y = blobs()
    model = mlp()
    opt = optim.SGDMomentum(model.parameters(), lr=0.2, momentum=0.9)
    sched = optim.ExponentialDecayLR(opt, gamma=0.7)
    history = quiet_fit(
        model,
        (x, y),
        blobs(30, seed=1),
        epochs=epochs,
        batch_size=16,
        optimizer=opt,
        scheduler=sched,
        checkpoint=path,
        resume=resume,
    )
    return model, history


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    straight, full = momentum_run(tmp_path / "a.pt", 4, resume=False)
    momentum_run(tmp_path / "b.pt", 2, resume=False)  # "interrupted" after two epochs
    resumed, history = momentum_run(tmp_path / "b.pt", 4, resume=True)
    assert without_time(history) == without_time(full)
    for p, q in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q)


def test_checkpoint_holds_model_optimizer_scheduler_and_epoch(tmp_path):
    model, _ = momentum_run(tmp_path / "c.pt", 3, resume=False)
    payload = torch.load(tmp_path / "c.pt", weights_only=True)
    assert payload["epoch"] == 3
    assert torch.equal(payload["model"]["0.weight"], model[0].weight)
    assert payload["optimizer"]["state"][0]["velocity"].shape == (16, 4)
    assert payload["scheduler"]["last_epoch"] == 3
    assert payload["history"]["epoch"] == [1, 2, 3]


def test_resume_without_a_file_starts_fresh_and_a_finished_run_does_nothing(tmp_path):
    path = tmp_path / "new.pt"
    _, fresh = momentum_run(path, 2, resume=True)
    assert fresh.epoch == [1, 2] and path.exists()
    _, again = momentum_run(path, 2, resume=True)
    assert without_time(again) == without_time(fresh)


def test_resume_with_another_seed_is_refused(tmp_path):
    x, y = blobs()
    quiet_fit(mlp(), (x, y), epochs=1, checkpoint=tmp_path / "s.pt", seed=1)
    with pytest.raises(ValueError, match="trained with seed 1, not 2"):
        quiet_fit(mlp(), (x, y), epochs=2, checkpoint=tmp_path / "s.pt", resume=True, seed=2)


# --------------------------------------------------------------------------- CUDA


@pytest.mark.cuda
def test_mixed_precision_on_cuda_learns_and_matches_fp32(cuda_device):
    x, y = blobs(600, dtype=torch.float32)
    val = blobs(90, seed=1, dtype=torch.float32)
    histories = []
    for amp in (False, True):
        model = mlp(dtype=torch.float32)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        histories.append(
            train.fit(
                model,
                (x, y),
                val,
                opt,
                5,
                batch_size=32,
                device=cuda_device,
                amp=amp,
                progress=False,
            )
        )
    fp32, mixed = histories
    assert mixed.val_acc[-1] > 0.9
    assert mixed.train_loss == pytest.approx(fp32.train_loss, rel=0.1, abs=0.01)


@pytest.mark.cuda
def test_fit_on_cuda_equals_fit_on_cpu(cuda_device):
    x, y = blobs()
    cpu = quiet_fit(mlp(), (x, y), batch_size=16)
    gpu = quiet_fit(mlp(), (x, y), batch_size=16, device=cuda_device)
    assert gpu.train_loss == pytest.approx(cpu.train_loss, abs=1e-9)


# --------------------------------------------------------------------------- command line


def test_cli_trains_a_zoo_model_and_prints_the_test_accuracy(capsys):
    from cnncourse.cli import main

    code = main(
        [
            "train",
            "lenet5",
            "--epochs",
            "1",
            "--dataset",
            "digits",
            "--device",
            "cpu",
            "--batch-size",
            "128",
            "--lr",
            "0.003",
            "--seed",
            "1",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "lenet5 on digits: final test accuracy" in captured.out
    assert "epoch 1/1" in captured.err


def test_cli_reports_bad_options_without_a_traceback(capsys):
    from cnncourse.cli import main

    assert main(["train", "lenet5", "--epochs", "1", "--device", "tpu", "--dataset", "digits"]) == 2
    assert "cnncourse train: error: device must be" in capsys.readouterr().err
    assert main(["train", "nosuchnet", "--epochs", "1"]) == 2
    assert "unknown model 'nosuchnet'" in capsys.readouterr().err


# --------------------------------------------------------------------------- train_zoo


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("dataset", "imagenet", "dataset must be one of"),
        ("optimizer", "lbfgs", "optimizer must be one of"),
        ("threads", 0, "threads must be"),
    ],
)
def test_train_zoo_names_a_bad_option(option, value, message):
    from cnncourse.train import train_zoo

    with pytest.raises(ValueError, match=message):
        train_zoo("lenet5", epochs=0, **{option: value})


def test_train_zoo_with_zero_epochs_returns_an_empty_history():
    from cnncourse.train import train_zoo

    history = train_zoo("lenet5", dataset="digits", epochs=0, device="cpu", progress=False)
    assert len(history) == 0
