"""Datasets as whole tensors already on the device: no DataLoader, no per-sample Python.

The work is many small networks, so each batch must be a slice of one resident tensor.
Every dataset comes back as a `Dataset`: float32 inputs in their natural shape, standardized
per channel with *training* statistics (test data never leaks into preprocessing), int64 labels.

Two datasets need nothing from the network (`digits`, `mnist1d`); the paper-scale ones go
through torchvision, whose downloader is the real path on a user's machine. `ensure_available`
checks for (and fetches) their files up front, so a missing file fails a run before any long
work starts, with a message saying exactly which files to put where.
"""
from __future__ import annotations

import gzip
import importlib.metadata
import os
import random
import shutil
import socket
import tempfile
import urllib.error
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
import torch

from . import paths

# Allowed model names, and the input rank each one needs (None: any; the MLP flattens).
MODELS = ("mlp", "cnn1d", "cnn")
MODEL_INPUT_RANK = {"mlp": None, "cnn1d": 2, "cnn": 3}  # (C, L) for cnn1d, (C, H, W) for cnn
# Where Debian's `dataset-fashion-mnist` puts real Fashion-MNIST; a variable so tests can move it.
DEBIAN_FASHION_MNIST = paths.DEBIAN_FASHION_MNIST
# Seconds a socket may stall during a download attempt: offline, fail in seconds, not minutes.
DOWNLOAD_TIMEOUT = 15.0


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensor fields with == is ambiguous
class Dataset:
    name: str
    x_train: torch.Tensor  # float32 [N, *in_shape], standardized with train statistics
    y_train: torch.Tensor  # int64 [N]
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    in_shape: tuple[int, ...]
    mean: tuple[float, ...] = ()  # per-channel train mean/std of the [0, 1]-scaled inputs,
    std: tuple[float, ...] = ()   # kept so images can be shown un-normalized

    def __repr__(self) -> str:  # the default repr would print the tensors
        return (f"Dataset({self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, "
                f"in_shape={self.in_shape}, n_classes={self.n_classes}, device={self.x_train.device})")


@dataclass(frozen=True)
class DatasetInfo:
    load: Callable[[Path], tuple]  # root -> (x_train, y_train, x_test, y_test), x in [0, 1]-ish
    models: tuple[str, ...]        # default parents for this dataset
    offline: bool                  # True: needs no file and no network
    description: str
    in_shape: tuple[int, ...]
    n_classes: int = 10


class DatasetUnavailableError(FileNotFoundError):
    """A dataset's files are missing and could not be downloaded. The message names the
    dataset, the missing files, the folder looked in, and how to get them."""


def _write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through a temp file + os.replace: a crash or a concurrent run never leaves a
    half-written file that a later existence check would take for a good one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ---- offline datasets ----------------------------------------------------------------------

def _load_digits(root: Path):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    # A fixed stratified 80/20 split: sklearn ships no test split; every run must see the same one.
    xtr, xte, ytr, yte = train_test_split(x / 16.0, y, test_size=0.2, random_state=0, stratify=y)
    return xtr.reshape(-1, 1, 8, 8), ytr, xte.reshape(-1, 1, 8, 8), yte


def _load_mnist1d(root: Path):
    # Cached once per mnist1d version (its default args live in the package), so later loads skip
    # both the ~1 s generation and the ~1 s import of mnist1d (which pulls in matplotlib).
    cache = root / "mnist1d" / f"mnist1d-{importlib.metadata.version('mnist1d')}-default.npz"
    if not cache.exists():
        from mnist1d.data import get_dataset_args, make_dataset  # never get_dataset: it downloads

        # make_dataset reseeds the *global* `random` and numpy RNGs (args.seed); restore them, or a
        # caller's random stream would depend on whether the cache existed.
        states = random.getstate(), np.random.get_state()
        try:
            d = make_dataset(get_dataset_args())  # 4000 train / 1000 test, length 40, seed 42
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])
        # To a file object: given a name, np.savez would append ".npz" to the temp file's.
        _write_atomic(cache, lambda f: np.savez(f, **{k: d[k] for k in ("x", "y", "x_test", "y_test")}))
    with np.load(cache) as z:
        return (z["x"][:, None, :], z["y"], z["x_test"][:, None, :], z["y_test"])


# ---- torchvision datasets ------------------------------------------------------------------

# name -> (torchvision class name, where its files come from, for the error message)
_TORCHVISION = {
    "mnist": ("MNIST", "torchvision downloads them from https://ossci-datasets.s3.amazonaws.com/"
                       "mnist/ (each is the .gz there, decompressed; placing the .gz files works too)"),
    "fashion_mnist": ("FashionMNIST", "torchvision downloads them from "
                      "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ (placing the "
                      ".gz files works too); or, on Debian/Ubuntu, `apt-get install "
                      "dataset-fashion-mnist` puts them in {debian}, which is used automatically"),
    "cifar10": ("CIFAR10", "torchvision downloads https://www.cs.toronto.edu/~kriz/cifar-10-python"
                           ".tar.gz; or extract that archive into the data root yourself"),
}


def _tv_class(name: str):
    import torchvision.datasets  # late: a 1.5 s import that digits and mnist1d do not need
    return getattr(torchvision.datasets, _TORCHVISION[name][0])


def _required(cls, root: Path) -> list[tuple[Path, str | None]]:
    """The files torchvision's loader will insist on, with their md5 (None: existence only).
    Read from the class itself, so we agree with torchvision on what 'present' means."""
    if hasattr(cls, "train_list"):  # CIFAR: md5 of every pickle batch, and of batches.meta
        folder = root / cls.base_folder
        entries = cls.train_list + cls.test_list + [[cls.meta["filename"], cls.meta["md5"]]]
        return [(folder / f, md5) for f, md5 in entries]
    # MNIST family: `_check_exists` wants the *decompressed* IDX files in root/<Class>/raw/;
    # the .gz named in `resources` is only what the downloader fetches.
    folder = root / cls.__name__ / "raw"
    return [(folder / f.removesuffix(".gz"), None) for f, _ in cls.resources]


def _missing(cls, root: Path) -> list[Path]:
    from torchvision.datasets.utils import check_integrity
    return [p for p, md5 in _required(cls, root) if not check_integrity(str(p), md5)]


def _gunzip(src: Path, dst: Path) -> None:
    with gzip.open(src, "rb") as fin:
        _write_atomic(dst, lambda f: shutil.copyfileobj(fin, f))


def _fill_from_gz(name: str, missing: list[Path]) -> None:
    """MNIST family: decompress .gz files found beside the missing files (a user copied them, or
    an interrupted download left them) or, for Fashion-MNIST, in Debian's folder."""
    if name not in ("mnist", "fashion_mnist"):
        return
    for path in missing:
        sources = [path.parent]
        if name == "fashion_mnist":
            sources.append(Path(DEBIAN_FASHION_MNIST))
        gz = next((f for f in (d / (path.name + ".gz") for d in sources) if f.is_file()), None)
        if gz is not None:
            _gunzip(gz, path)


def ensure_available(name: str, root: Path | str | None = None) -> None:
    """Make sure a dataset's files are on disk (offline copies first, then a download attempt);
    raise DatasetUnavailableError naming what is missing. Loads nothing into memory."""
    if _info(name).offline:
        return
    root = paths.resolve(root, paths.DATA)
    cls = _tv_class(name)
    _fill_from_gz(name, _missing(cls, root))
    if not _missing(cls, root):
        return
    old, error = socket.getdefaulttimeout(), None
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)  # process-wide, so restored right after
    try:
        cls(str(root), train=False, download=True)
    except (urllib.error.URLError, OSError, RuntimeError) as e:  # offline, HTTP error, bad md5
        error = e
    finally:
        socket.setdefaulttimeout(old)
    missing = _missing(cls, root)
    if missing:
        why = f" ({type(error).__name__}: {' '.join(str(error).split())[:400]})" if error else ""
        raise DatasetUnavailableError(
            f"Dataset {name!r} is not in {missing[0].parent} and could not be downloaded{why}.\n"
            f"Missing files:\n" + "".join(f"  {p}\n" for p in missing) +
            f"To get them: {_TORCHVISION[name][1].format(debian=DEBIAN_FASHION_MNIST)}. "
            "Set DATA_ROOT to use another folder.")


def _load_torchvision(name: str, root: Path):
    """Both splits through torchvision, then whole-tensor conversion: no per-sample Python."""
    ensure_available(name, root)
    cls = _tv_class(name)
    out = []
    for ds in (cls(str(root), train=train, download=False) for train in (True, False)):
        if isinstance(ds.data, np.ndarray):  # CIFAR: uint8 numpy [N, H, W, C], labels a list
            x = torch.from_numpy(ds.data).permute(0, 3, 1, 2)
        else:  # MNIST family: uint8 tensor [N, H, W]
            x = ds.data.unsqueeze(1)
        out += [x.float().div_(255), torch.as_tensor(ds.targets, dtype=torch.int64)]
    return tuple(out)


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(_load_digits, ("mlp",), True, "sklearn's 8x8 handwritten digits "
                          "(1797), fixed stratified 80/20 split", (1, 8, 8)),
    "mnist1d": DatasetInfo(_load_mnist1d, ("mlp", "cnn1d"), True, "MNIST-1D, generated by the "
                           "mnist1d package (4000/1000, length 40)", (1, 40)),
    "mnist": DatasetInfo(partial(_load_torchvision, "mnist"), ("mlp",), False,
                         "MNIST via torchvision (60000/10000)", (1, 28, 28)),
    "fashion_mnist": DatasetInfo(partial(_load_torchvision, "fashion_mnist"), ("mlp",), False,
                                 "Fashion-MNIST via torchvision or Debian (60000/10000)", (1, 28, 28)),
    "cifar10": DatasetInfo(partial(_load_torchvision, "cifar10"), ("mlp", "cnn"), False,
                           "CIFAR-10 via torchvision (50000/10000)", (3, 32, 32)),
}


def _info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ValueError(f"DATASETS: unknown dataset {name!r}; allowed: {list(DATASETS)}")
    return DATASETS[name]


def models_for(name: str) -> tuple[str, ...]:
    """The models whose input rank fits the dataset's natural input shape."""
    rank = len(_info(name).in_shape)
    return tuple(m for m in MODELS if MODEL_INPUT_RANK[m] in (None, rank))


def check_model(dataset: str, model: str) -> None:
    """Raise ValueError (naming MODELS) if `model` is unknown or cannot take `dataset`'s inputs."""
    allowed = models_for(dataset)
    if model not in allowed:
        why = f"does not fit input shape {_info(dataset).in_shape}" if model in MODELS else "unknown"
        raise ValueError(f"MODELS: {model!r} {why}; allowed for {dataset!r}: {list(allowed)}")


def load_dataset(name: str, root: Path | str | None = None, device="cpu") -> Dataset:
    """Load a dataset as standardized tensors on `device`.

    Nothing is cached in memory between calls: every caller gets fresh tensors it may modify,
    and loading is cheap (digits, cached mnist1d: well under a second).
    """
    info = _info(name)
    xtr, ytr, xte, yte = info.load(paths.resolve(root, paths.DATA))
    xtr, xte = (torch.as_tensor(x, dtype=torch.float32) for x in (xtr, xte))
    ytr, yte = (torch.as_tensor(y, dtype=torch.int64) for y in (ytr, yte))
    # Per-channel statistics over every other axis, from the training split only.
    dims = [0] + list(range(2, xtr.dim()))
    mean = xtr.mean(dim=dims, keepdim=True)
    std = xtr.std(dim=dims, keepdim=True, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant channel stays 0, not NaN
    if tuple(xtr.shape[1:]) != info.in_shape:  # foreign files: say so rather than train on them
        raise ValueError(f"{name}: inputs of shape {tuple(xtr.shape[1:])}, not {info.in_shape}")
    return Dataset(name, ((xtr - mean) / std).to(device), ytr.to(device),
                   ((xte - mean) / std).to(device), yte.to(device), info.n_classes, info.in_shape,
                   tuple(mean.flatten().tolist()), tuple(std.flatten().tolist()))
