"""The torchvision datasets (MNIST, Fashion-MNIST, CIFAR-10): their files on disk, found where
a person or Debian's `dataset-fashion-mnist` put them, else downloaded by torchvision, else a
message naming every way in; and their loading as whole tensors."""
from __future__ import annotations

import gzip
import shutil
import socket
import urllib.error
from pathlib import Path

import numpy as np
import torch

from .files import write_atomic

# Where Debian's `dataset-fashion-mnist` puts real Fashion-MNIST; a variable so tests can move it.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
# Seconds a socket may stall during a download attempt: offline, fail in seconds, not minutes.
DOWNLOAD_TIMEOUT = 15.0


class DatasetUnavailableError(FileNotFoundError):
    """A dataset's files are missing and could not be downloaded. The message names the
    dataset, the missing files, the folder looked in, and how to get them."""


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
        write_atomic(dst, lambda f: shutil.copyfileobj(fin, f))


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


def load(name: str, root: Path):
    """Both splits through torchvision, then whole-tensor conversion: no per-sample Python."""
    ensure(name, root)
    cls = _tv_class(name)
    out = []
    for ds in (cls(str(root), train=train, download=False) for train in (True, False)):
        if isinstance(ds.data, np.ndarray):  # CIFAR: uint8 numpy [N, H, W, C], labels a list
            x = torch.from_numpy(ds.data).permute(0, 3, 1, 2)
        else:  # MNIST family: uint8 tensor [N, H, W]
            x = ds.data.unsqueeze(1)
        out += [x.float().div_(255), torch.as_tensor(ds.targets, dtype=torch.int64)]
    return tuple(out)




def ensure(name: str, root: Path) -> None:
    """Make sure a torchvision dataset's files are on disk (offline copies first, then a
    download attempt); raise DatasetUnavailableError naming what is missing."""
    root = Path(root)
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
