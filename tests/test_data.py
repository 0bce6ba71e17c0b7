"""Tests of course_lib.data against a tiny archive in CIFAR-10's own format, served via file://."""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib import data
from course_lib.data import ChecksumError, DatasetError

PER_BATCH = 4  # images per batch file: 20 training and 4 test images in total
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
SIZES = {"num_training": 15, "num_validation": 5, "num_test": 4}


def _string(raw: bytes) -> bytes:
    """SHORT_BINSTRING / BINSTRING: a Python 2 str, loaded as bytes with encoding='bytes'."""
    return (b"U" + bytes([len(raw)]) if len(raw) < 256 else b"T" + struct.pack("<i", len(raw))) + raw


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def _py2_batch(images: np.ndarray, labels: list[int]) -> bytes:
    """``{'data': images, 'labels': labels}`` as Python 2's cPickle (protocol 2) wrote CIFAR-10."""
    n, d = images.shape
    dtype = (
        b"cnumpy\ndtype\n"
        + _string(b"u1")
        + b"\x89\x88\x87R("
        + _int(3)
        + _string(b"|")
        + b"NNN"
        + _int(-1)
        + _int(-1)
        + _int(0)
        + b"tb"
    )
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
        + _int(0)
        + b"\x85"
        + _string(b"b")
        + b"\x87R("
        + _int(1)
        + _int(n)
        + _int(d)
        + b"\x86"
        + dtype
        + b"\x89"
        + _string(images.tobytes())
        + b"tb"
    )
    label_list = b"](" + b"".join(_int(v) for v in labels) + b"e"
    return b"\x80\x02}(" + _string(b"data") + array + _string(b"labels") + label_list + b"u."


def _make_archive(path: Path, *, skip: str | None = None, replace: dict[str, bytes] | None = None) -> dict:
    """Write a tiny cifar-10-python.tar.gz; return its MD5, images (24, 3072) and labels (24,)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6 * PER_BATCH, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, 6 * PER_BATCH).tolist()
    files = {}
    for i, name in enumerate([*data.CIFAR10_BATCHES, "test_batch"]):
        chunk = slice(i * PER_BATCH, (i + 1) * PER_BATCH)
        if name == "test_batch":  # a modern (Python 3, numpy 2) pickle must load too
            files[name] = pickle.dumps({b"data": images[chunk], b"labels": labels[chunk]}, protocol=4)
        else:
            files[name] = _py2_batch(images[chunk], labels[chunk])
    files["batches.meta"] = pickle.dumps(
        {b"label_names": [n.encode() for n in CLASS_NAMES], b"num_vis": 3072}
    )
    files.update(replace or {})
    files.pop(skip, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(f"{data.CIFAR10_FOLDER}/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return {"md5": hashlib.md5(path.read_bytes()).hexdigest(), "images": images, "labels": labels}


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "server" / data.CIFAR10_ARCHIVE
    return {"path": path, "url": path.as_uri(), **_make_archive(path)}


def _refuse(*args, **kwargs):
    raise AssertionError("no download expected")


@pytest.fixture
def offline(monkeypatch):
    """Any download attempt fails the test."""
    monkeypatch.setattr(urllib.request, "urlopen", _refuse)


def test_download_verify_extract_and_load(archive, tmp_path):
    root = tmp_path / "cache"
    dataset = data.load_cifar10(**SIZES, root=root, url=archive["url"], md5=archive["md5"])
    assert (root / data.CIFAR10_ARCHIVE).is_file()
    assert sorted(p.name for p in (root / data.CIFAR10_FOLDER).iterdir()) == sorted(data.CIFAR10_FILES)
    assert {p.name for p in root.iterdir()} == {data.CIFAR10_ARCHIVE, data.CIFAR10_FOLDER}

    images = torch.from_numpy(archive["images"]).float() / 255
    mean = images[:15].mean(0)
    assert dataset["X_train"].shape == (15, 3072) and dataset["X_train"].dtype == torch.float32
    assert dataset["X_val"].shape == (5, 3072) and dataset["X_test"].shape == (4, 3072)
    torch.testing.assert_close(dataset["X_train"], images[:15] - mean)
    torch.testing.assert_close(dataset["X_val"], images[15:20] - mean)
    torch.testing.assert_close(dataset["X_test"], images[20:24] - mean)
    torch.testing.assert_close(dataset["mean_image"], mean)
    assert dataset["y_train"].dtype == torch.int64
    assert dataset["y_train"].tolist() == archive["labels"][:15]
    assert dataset["y_test"].tolist() == archive["labels"][20:]
    assert dataset["class_names"] == CLASS_NAMES and dataset["name"] == "cifar10"

    again = data.load_cifar10(**SIZES, root=root, url="file:///nowhere", flatten=False, dtype=torch.float64)
    assert again["X_train"].shape == (15, 3, 32, 32) and again["X_train"].dtype == torch.float64
    assert again["mean_image"].shape == (3, 32, 32)


def test_checksum_mismatch_deletes_the_download(archive, tmp_path):
    root = tmp_path / "cache"
    with pytest.raises(ChecksumError, match=r"MD5.*deleted"):
        data.fetch_cifar10(root, url=archive["url"], md5="0" * 32)
    assert list(root.iterdir()) == []


def test_cached_archive_with_bad_checksum_is_deleted(archive, tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    cached = root / data.CIFAR10_ARCHIVE
    cached.write_bytes(archive["path"].read_bytes()[:-10])
    with pytest.raises(ChecksumError, match="run again"):
        data.fetch_cifar10(root, url=archive["url"], md5=archive["md5"])
    assert not cached.exists()


def test_corrupt_archive_is_a_clear_error(tmp_path):
    bad = tmp_path / "server" / data.CIFAR10_ARCHIVE
    bad.parent.mkdir()
    bad.write_bytes(b"\x1f\x8b this is not a gzip stream" * 100)
    md5 = hashlib.md5(bad.read_bytes()).hexdigest()
    root = tmp_path / "cache"
    with pytest.raises(DatasetError, match="corrupt"):
        data.fetch_cifar10(root, url=bad.as_uri(), md5=md5)
    assert sorted(p.name for p in root.iterdir()) == [data.CIFAR10_ARCHIVE]


def test_missing_batch_file_is_a_clear_error(tmp_path):
    path = tmp_path / "server" / data.CIFAR10_ARCHIVE
    md5 = _make_archive(path, skip="data_batch_3")["md5"]
    with pytest.raises(DatasetError, match="lacks data_batch_3"):
        data.fetch_cifar10(tmp_path / "cache", url=path.as_uri(), md5=md5)
    assert not (tmp_path / "cache" / data.CIFAR10_FOLDER).exists()


def test_pickle_with_disallowed_global_is_refused(tmp_path):
    evil = b"cos\nsystem\n(S'true'\ntR."  # would call os.system('true') if unpickled naively
    path = tmp_path / "server" / data.CIFAR10_ARCHIVE
    md5 = _make_archive(path, replace={"data_batch_2": evil})["md5"]
    with pytest.raises(DatasetError, match=r"data_batch_2.*global os\.system"):
        data.load_cifar10(**SIZES, root=tmp_path / "cache", url=path.as_uri(), md5=md5)


def test_download_failure_is_a_clear_error(tmp_path):
    root = tmp_path / "cache"
    with pytest.raises(DatasetError, match="Could not download"):
        data.fetch_cifar10(root, url=(tmp_path / "missing.tar.gz").as_uri())
    assert list(root.iterdir()) == []
    with pytest.raises(DatasetError, match="not in"):
        data.fetch_cifar10(tmp_path / "empty", download=False)


def test_digits_offline_shapes_dtypes_and_seeded_split(offline):
    dataset = data.load_digits()
    sizes = [len(dataset[f"y_{split}"]) for split in ("train", "val", "test")]
    assert sizes == [1297, 200, 300]
    assert dataset["X_train"].shape == (1297, 64) and dataset["X_train"].dtype == torch.float32
    assert dataset["y_train"].dtype == torch.int64 and set(dataset["y_train"].tolist()) == set(range(10))
    assert dataset["X_train"].mean(0).abs().max() < 1e-5
    assert (dataset["X_train"] + dataset["mean_image"]).min() >= 0
    assert (dataset["X_train"] + dataset["mean_image"]).max() <= 1 + 1e-6
    assert dataset["name"] == "digits" and dataset["image_shape"] == (1, 8, 8)
    same = data.load_digits()
    other = data.load_digits(seed=1, flatten=False, dtype=torch.float64)
    assert torch.equal(same["X_val"], dataset["X_val"])
    assert not torch.equal(other["y_val"], dataset["y_val"])
    assert other["X_train"].shape == (1297, 1, 8, 8) and other["X_train"].dtype == torch.float64
    with pytest.raises(ValueError, match="digits has 1797"):
        data.load_digits(num_training=1500)


def test_auto_uses_digits_when_nothing_is_cached(monkeypatch, tmp_path, capsys, offline):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    dataset = data.load_dataset()
    assert dataset["name"] == "digits"
    assert "digits" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_auto_uses_cifar10_when_cached(monkeypatch, tmp_path, capsys, archive):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    data.fetch_cifar10(url=archive["url"], md5=archive["md5"])
    assert data.cifar10_cached()
    monkeypatch.setattr(urllib.request, "urlopen", _refuse)
    dataset = data.load_dataset(**SIZES)
    assert dataset["name"] == "cifar10" and dataset["X_train"].shape == (15, 3072)
    assert "CIFAR-10" in capsys.readouterr().out


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="Unknown dataset"):
        data.load_dataset("mnist")


def test_digits_arrays_are_scikit_learns_without_importing_it():
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    pixels, labels = data.digits_arrays()
    reference = load_digits()
    assert pixels.dtype == np.float64 and labels.dtype == np.int64
    assert np.array_equal(pixels, reference.data) and np.array_equal(labels, reference.target)
    probe = "import sys; from course_lib.data import digits_arrays; digits_arrays(); print('sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
