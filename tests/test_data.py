"""weedout.data: offline datasets, and torchvision's loaders on tiny files written in the real
on-disk formats (IDX, CIFAR-10 pickle batches). No test touches the network: every socket
lookup or connect raises, as it would offline, and is recorded so a test can see a download was
tried.

Oracle: expected tensors are computed here independently (numpy, float64) from the pixels we
wrote, then compared with what load_dataset returns.
"""
import gzip
import hashlib
import pickle
import random
import socket
import struct

import numpy as np
import pytest
import torch
import torchvision.datasets

from weedout import data, fetch
from weedout.config import paths
from weedout.data import torchvision_sets


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Make the network unreachable for the test; returns the list of attempted hosts."""
    attempts = []

    def no_dns(host, *args, **kwargs):
        attempts.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "offline (test)")

    def no_connect(self, address):
        attempts.append(address)
        raise OSError("offline (test)")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(socket.socket, "connect", no_connect)
    return attempts


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def oracle(x_train, x_test):
    """Independent per-channel standardization with train statistics, in float64."""
    axes = (0,) + tuple(range(2, x_train.ndim))
    mean = x_train.mean(axis=axes, keepdims=True)
    std = x_train.std(axis=axes, keepdims=True)
    return (x_train - mean) / std, (x_test - mean) / std


def assert_equal_to(actual, expected):
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=torch.float32), atol=1e-5, rtol=1e-5)


def check_basics(d, name, n_train, n_test, in_shape):
    assert d.name == name and d.in_shape == in_shape == data.DATASETS[name].in_shape
    assert d.x_train.shape == (n_train, *in_shape) and d.x_test.shape == (n_test, *in_shape)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert d.y_train.shape == (n_train,) and d.y_test.shape == (n_test,)
    assert d.n_classes == 10 and set(d.y_train.tolist()) <= set(range(10))
    dims = [0] + list(range(2, d.x_train.dim()))
    assert d.x_train.mean(dims).abs().max() < 1e-4
    assert (d.x_train.std(dims, correction=0) - 1).abs().max() < 1e-4


# ---- offline datasets ----------------------------------------------------------------------

def test_digits(root):
    from sklearn.datasets import load_digits

    d = data.load_dataset("digits", root)
    check_basics(d, "digits", 1437, 360, (1, 8, 8))
    # Stratified: each class is split 80/20 to within one image.
    per_class_test, per_class_all = d.y_test.bincount(), torch.cat([d.y_train, d.y_test]).bincount()
    assert ((per_class_test - 0.2 * per_class_all).abs() <= 1).all()
    # Every image is a real digit, each used once: train and test rows together are the dataset.
    x, _ = load_digits(return_X_y=True)
    both = torch.cat([d.x_train, d.x_test]).flatten(1) * d.std[0] + d.mean[0]
    rows = sorted(map(tuple, (both * 16).round().int().tolist()))
    assert rows == sorted(map(tuple, x.astype(int).tolist()))
    again = data.load_dataset("digits", root)
    assert torch.equal(again.x_train, d.x_train) and torch.equal(again.y_test, d.y_test)


def test_mnist1d_generated_offline_cached_and_deterministic(tmp_path, monkeypatch):
    from mnist1d.data import get_dataset_args, make_dataset
    import requests

    monkeypatch.setattr(requests, "get", lambda *a, **k: pytest.fail("mnist1d downloader called"))
    rng_before = random.getstate(), np.random.get_state()
    d = data.load_dataset("mnist1d", tmp_path)
    # Generation reseeds numpy/random globally; load_dataset must leave the caller's streams alone.
    assert random.getstate() == rng_before[0]
    assert np.array_equal(np.random.get_state()[1], rng_before[1][1])
    check_basics(d, "mnist1d", 4000, 1000, (1, 40))
    assert len(list((tmp_path / "mnist1d").glob("*.npz"))) == 1  # cached, no leftover temp file
    assert not list((tmp_path / "mnist1d").glob("*.tmp"))

    raw = make_dataset(get_dataset_args())
    xtr, xte = oracle(raw["x"][:, None, :], raw["x_test"][:, None, :])
    assert_equal_to(d.x_train, xtr)
    assert_equal_to(d.x_test, xte)
    assert d.y_test.tolist() == raw["y_test"].tolist()

    cached = data.load_dataset("mnist1d", tmp_path)  # second load comes from the .npz
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(d, field), getattr(cached, field))


# ---- torchvision datasets on tiny files in the real formats --------------------------------

def idx_bytes(arr):
    """IDX: big-endian magic 0x00000800 | ndim (0x803 images, 0x801 labels), dims, uint8 payload."""
    header = struct.pack(">I", 0x0800 | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.tobytes()


def write_idx_set(folder, gz, seed=0):
    """Four tiny MNIST-format files (6 train, 4 test images); returns their arrays."""
    rng = np.random.default_rng(seed)
    arrays = {split: (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                      rng.integers(0, 10, n, dtype=np.uint8)) for split, n in (("train", 6), ("t10k", 4))}
    folder.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in arrays.items():
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{split}-{kind}-ubyte"
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(arr)))
            else:
                (folder / name).write_bytes(idx_bytes(arr))
    return arrays


def check_against(d, arrays, train="train", test="t10k"):
    (xtr, ytr), (xte, yte) = arrays[train], arrays[test]
    xtr, xte = (np.asarray(x, dtype=np.float64) / 255 for x in (xtr, xte))
    if xtr.ndim == 3:  # MNIST family: add the channel axis
        xtr, xte = xtr[:, None], xte[:, None]
    etr, ete = oracle(xtr, xte)
    assert_equal_to(d.x_train, etr)
    assert_equal_to(d.x_test, ete)
    assert d.y_train.tolist() == list(ytr) and d.y_test.tolist() == list(yte)


@pytest.mark.parametrize("gz", [False, True], ids=["decompressed", "gz-only"])
def test_mnist_from_idx_files(tmp_path, gz, offline):
    # torchvision wants the decompressed files in MNIST/raw; .gz files there (what its downloader
    # fetches) are decompressed by us. Either way no download is attempted.
    arrays = write_idx_set(tmp_path / "MNIST" / "raw", gz)
    d = data.load_dataset("mnist", tmp_path)
    check_basics(d, "mnist", 6, 4, (1, 28, 28))
    check_against(d, arrays)
    assert offline == []


def test_fashion_mnist_from_debian_folder(tmp_path, monkeypatch, offline):
    debian = tmp_path / "debian"
    arrays = write_idx_set(debian, gz=True, seed=1)  # Debian ships the four .gz files
    monkeypatch.setattr(torchvision_sets, "DEBIAN_FASHION_MNIST", debian)
    d = data.load_dataset("fashion_mnist", tmp_path / "root")
    check_against(d, arrays)
    assert (tmp_path / "root" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    assert offline == []


class Py2Str(bytes):
    """A Python 2 `str`. The real CIFAR-10 batches were pickled by Python 2, so their keys are
    py2 strings: b"data" under encoding="bytes", "data" under torchvision's encoding="latin1".
    Python 3 pickles bytes differently (as bytes under both), so write the py2 opcode by hand."""


def _save_py2str(pickler, obj):
    pickler.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + bytes(obj))
    pickler.memoize(obj)


class Py2Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table is extensible
    dispatch = {**pickle._Pickler.dispatch, Py2Str: _save_py2str}


def py2_pickle(obj, path):
    with open(path, "wb") as f:
        Py2Pickler(f, protocol=2).dump(obj)


def write_cifar(folder, monkeypatch):
    """CIFAR-10 python batches: pickled dicts, "data" uint8 [n, 3072] (R, G, B planes of 32x32)."""
    rng = np.random.default_rng(2)
    folder.mkdir(parents=True)
    arrays, md5 = {}, {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        n = 2 + i % 2
        x, y = rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).tolist()
        py2_pickle({Py2Str(b"batch_label"): Py2Str(name.encode()), Py2Str(b"labels"): y,
                    Py2Str(b"data"): x}, folder / name)
        arrays[name] = (x.reshape(n, 3, 32, 32), y)
    names = [Py2Str(b"c%d" % k) for k in range(10)]
    py2_pickle({Py2Str(b"label_names"): names}, folder / "batches.meta")
    with open(folder / "test_batch", "rb") as f:  # the format check: the real files read this way
        assert sorted(pickle.load(f, encoding="bytes")) == [b"batch_label", b"data", b"labels"]
    # torchvision checks every batch's md5 against the real CIFAR-10's. Our tiny files cannot
    # match those, so (in this test only) the expected md5s become those of the files we wrote:
    # the integrity check still runs, for real, on both our side and torchvision's.
    for name in list(arrays) + ["batches.meta"]:
        md5[name] = hashlib.md5((folder / name).read_bytes()).hexdigest()
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "train_list", [[f"data_batch_{k}", md5[f"data_batch_{k}"]]
                                            for k in range(1, 6)])
    monkeypatch.setattr(cls, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5["batches.meta"]})
    train = [arrays[f"data_batch_{k}"] for k in range(1, 6)]
    return {"train": (np.concatenate([x for x, _ in train]), sum((y for _, y in train), [])),
            "test": arrays["test_batch"]}


def test_cifar10_from_pickle_batches(tmp_path, monkeypatch, offline):
    arrays = write_cifar(tmp_path / "cifar-10-batches-py", monkeypatch)
    d = data.load_dataset("cifar10", tmp_path)
    check_basics(d, "cifar10", 12, 3, (3, 32, 32))
    check_against(d, arrays, "train", "test")
    assert offline == []


# ---- missing files, offline ----------------------------------------------------------------

@pytest.mark.parametrize("name, missing, folder", [
    ("mnist", "train-images-idx3-ubyte", "MNIST/raw"),
    ("fashion_mnist", "t10k-labels-idx1-ubyte", "FashionMNIST/raw"),
    ("cifar10", "data_batch_1", "cifar-10-batches-py"),
])
def test_missing_files_offline(tmp_path, monkeypatch, offline, name, missing, folder):
    monkeypatch.setattr(torchvision_sets, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    # Nothing may be read or unpickled before the error: the check is about files only.
    fail = lambda *a, **k: pytest.fail("data was read")  # noqa: E731
    monkeypatch.setattr(torchvision.datasets.mnist, "read_image_file", fail)
    monkeypatch.setattr(torchvision.datasets.cifar.pickle, "load", fail)
    timeout = socket.getdefaulttimeout()
    with pytest.raises(data.DatasetUnavailableError) as err:
        data.ensure_available(name, tmp_path)
    msg = str(err.value)
    assert missing in msg and str(tmp_path / folder) in msg and repr(name) in msg
    assert "http" in msg  # says where the files come from
    assert offline, "a download should have been attempted"
    assert socket.getdefaulttimeout() == timeout  # the short download timeout was restored
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(data.DatasetUnavailableError):
        data.load_dataset(name, tmp_path)


# ---- names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [lambda n: data.load_dataset(n, paths.DATA),
                                  lambda n: data.ensure_available(n, paths.DATA),
                                  lambda n: data.check_model(n, "mlp")])
def test_unknown_dataset(call):
    with pytest.raises(ValueError, match=r"DATASETS.*'imagenet'.*digits"):
        call("imagenet")


def test_models():
    for name, info in data.DATASETS.items():
        for model in info.models:
            data.check_model(name, model)  # every default pair is valid
        data.check_model(name, "mlp")
    assert data.models_for("mnist1d") == ("mlp", "cnn1d")
    assert data.models_for("cifar10") == ("mlp", "cnn")
    with pytest.raises(ValueError, match=r"MODELS.*'cnn1d'.*digits.*\['mlp', 'cnn'\]"):
        data.check_model("digits", "cnn1d")
    with pytest.raises(ValueError, match=r"MODELS.*'cnn'.*mnist1d"):
        data.check_model("mnist1d", "cnn")
    with pytest.raises(ValueError, match=r"MODELS.*'resnet'"):
        data.check_model("digits", "resnet")


# ---- python -m weedout.fetch (`make data`) ---------------------------------------------------

def test_fetch_offline_datasets_need_nothing(capsys, offline):
    assert fetch.main(["--preset", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "digits: ready (offline" in out and "mnist1d: ready (offline" in out and offline == []


def test_fetch_names_every_way_in_when_none_works(tmp_path, monkeypatch, capsys, offline):
    monkeypatch.setattr(torchvision_sets, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    tried = []
    monkeypatch.setattr(fetch, "_apt_install", lambda package: tried.append(package) or False)
    assert fetch.main(["fashion_mnist", "--data-root", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 1  # one message ...
    assert "torchvision downloads them from http" in err and "apt-get install dataset-fashion-mnist" in err
    assert offline and tried == ["dataset-fashion-mnist"]  # ... after a download and apt were tried


def test_fetch_installs_the_debian_package_when_the_download_fails(tmp_path, monkeypatch, capsys, offline):
    debian = tmp_path / "debian"
    monkeypatch.setattr(torchvision_sets, "DEBIAN_FASHION_MNIST", debian)
    arrays = {}

    def apt(package):  # what `apt-get install dataset-fashion-mnist` does: the four .gz appear
        assert package == "dataset-fashion-mnist"
        arrays.update(write_idx_set(debian, gz=True, seed=3))
        return True

    monkeypatch.setattr(fetch, "_apt_install", apt)
    assert fetch.main(["--preset", "fashion", "--data-root", str(tmp_path / "d")]) == 0
    assert "fashion_mnist: ready" in capsys.readouterr().out
    check_against(data.load_dataset("fashion_mnist", tmp_path / "d"), arrays)


def test_fetch_rejects_unknown_names(capsys):
    assert fetch.main(["fashion"]) == 1
    assert "DATASETS='fashion' is not allowed" in capsys.readouterr().err
    assert fetch.main(["--preset", "nope"]) == 1
    assert "PRESET='nope' is not allowed" in capsys.readouterr().err
