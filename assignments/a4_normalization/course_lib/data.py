"""Datasets as dicts of tensors: CIFAR-10 (downloaded once, verified, cached) and digits (offline).

Every loader returns ``X_train, y_train, X_val, y_val, X_test, y_test`` plus ``class_names``,
``name``, ``image_shape`` (per-example shape, channels first) and ``mean_image`` (the training
mean that was subtracted, shaped like one example). Inputs are ``(N, D)`` when ``flatten`` is
true, otherwise ``(N, *image_shape)``; labels are int64 ``(N,)``.

The cache folder is ``$COURSE_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/course_lib`` (default
``~/.cache/course_lib``). Failures raise :class:`DatasetError` with a hint on what to do; no
loader ever falls back to different data on its own.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import math
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5")
CIFAR10_FILES = (*CIFAR10_BATCHES, "test_batch", "batches.meta")
CIFAR10_IMAGE_SHAPE = (3, 32, 32)
DIGITS_IMAGE_SHAPE = (1, 8, 8)

_CHUNK = 1 << 20
# numpy's helper that rebuilds an ndarray from a pickle, whatever module numpy files it under.
_RECONSTRUCT = np.empty(0).__reduce__()[0]
#: The only globals a CIFAR-10 batch pickle may reference (it holds dicts, lists, bytes, arrays).
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class DatasetError(RuntimeError):
    """A dataset could not be downloaded, verified, extracted or read."""


class ChecksumError(DatasetError):
    """A file's MD5 does not match the expected value (the file has been deleted)."""


def data_dir() -> Path:
    """Cache folder: ``$COURSE_DATA_DIR``, else ``$XDG_CACHE_HOME/course_lib`` or ``~/.cache/course_lib``."""
    if os.environ.get("COURSE_DATA_DIR"):
        return Path(os.environ["COURSE_DATA_DIR"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "course_lib"


# ------------------------------------------------------------------ CIFAR-10 files


def cifar10_cached(root: str | os.PathLike | None = None) -> bool:
    """True if the CIFAR-10 archive or its extracted batches are in ``root`` (default :func:`data_dir`)."""
    root = _root(root)
    return (root / CIFAR10_ARCHIVE).is_file() or _complete(root / CIFAR10_FOLDER)


def fetch_cifar10(root: str | os.PathLike | None = None, url: str = CIFAR10_URL, md5: str = CIFAR10_MD5,
                  download: bool = True) -> Path:
    """Make sure the extracted CIFAR-10 python batches are in ``root``; return their folder.

    Steps, each skipped when already done: download ``url`` into a temporary file, check its MD5
    and rename it to ``root/cifar-10-python.tar.gz``; extract the batch files into a temporary
    folder and rename it to ``root/cifar-10-batches-py``. An archive found in ``root`` is
    verified before extraction.

    Args:
        root: cache folder (default :func:`data_dir`).
        url: where to download from (any scheme urllib knows, e.g. ``file://``).
        md5: expected hex MD5 of the archive.
        download: if False and nothing is cached, raise instead of downloading.

    Raises:
        ChecksumError: MD5 mismatch; the bad file is deleted.
        DatasetError: no network, missing archive with ``download=False``, corrupt archive or
            missing batch files.
    """
    root = _root(root)
    folder = root / CIFAR10_FOLDER
    if _complete(folder):
        return folder
    archive = root / CIFAR10_ARCHIVE
    if archive.is_file():
        _verify_md5(archive, md5)
    elif download:
        _download(url, archive, md5)
    else:
        raise DatasetError(f"CIFAR-10 is not in {root}. Run load_dataset('cifar10') to download it "
                           f"(~170 MB), or put {CIFAR10_ARCHIVE} there yourself.")
    _extract(archive, folder)
    return folder


def _root(root: str | os.PathLike | None) -> Path:
    return data_dir() if root is None else Path(root)


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in CIFAR10_FILES)


def _download(url: str, dest: Path, md5: str) -> None:
    """Download ``url`` to ``dest`` via a temporary file that is renamed only once the MD5 matches."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _copy_url(url, out, dest)
        if digest != md5.lower():
            raise ChecksumError(f"The file downloaded from {url} has MD5 {digest}, expected {md5}; it was "
                                "deleted. Run again to retry; if this persists the download is being "
                                f"altered (proxy?) — fetch the file by other means and place it at {dest}.")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_url(url: str, out: BinaryIO, dest: Path) -> str:
    """Stream ``url`` into ``out`` with a progress bar; return the hex MD5 of the bytes."""
    from tqdm.auto import tqdm

    digest = hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"Downloading {dest.name}") as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise DatasetError(f"Could not download {url}: {exc}. Check your internet connection (and proxy "
                           f"settings) and run again, or download the file by hand and place it at {dest}.") from exc
    return digest.hexdigest()


def _verify_md5(path: Path, md5: str) -> None:
    """Raise :class:`ChecksumError` and delete ``path`` unless its MD5 is ``md5``."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != md5.lower():
        path.unlink()
        raise ChecksumError(f"{path} has MD5 {digest.hexdigest()}, expected {md5}, so it is damaged or not "
                            "the right file. It was deleted; run again to download a fresh copy.")


def _extract(archive: Path, folder: Path) -> None:
    """Copy the CIFAR-10 files out of ``archive`` into ``folder`` (built aside, then renamed).

    Only the expected regular files are written, under names chosen here, so member paths in
    the archive cannot point outside ``folder``.
    """
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    wanted = {f"{CIFAR10_FOLDER}/{name}": name for name in CIFAR10_FILES}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.isfile() and member.name in wanted:
                    with tar.extractfile(member) as src, (tmp / wanted.pop(member.name)).open("wb") as dst:
                        shutil.copyfileobj(src, dst, _CHUNK)
        if wanted:
            raise DatasetError(f"{archive} lacks {', '.join(sorted(wanted.values()))}, so it is not the CIFAR-10 python "
                               "archive. Delete it and run again to download a fresh copy.")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DatasetError(f"Could not extract {archive}: {exc}. The archive is corrupt or unreadable; "
                           "delete it and run again to download a fresh copy.") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- CIFAR-10 arrays


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the numpy globals needed to rebuild arrays."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"it references the global {module}.{name}, but a CIFAR-10 batch "
                                         "may only contain numpy arrays, lists, bytes and dicts") from None


def _unpickle(path: Path) -> Any:
    """Load one batch file (Python 2 pickle; byte-string keys) with the restricted unpickler."""
    try:
        with path.open("rb") as file:
            return _NumpyOnlyUnpickler(file, encoding="bytes").load()
    except Exception as exc:  # any failure of a pickle means the file is not what we expect
        raise DatasetError(f"Refusing to load {path}: {exc}. Delete the folder {path.parent} and run again "
                           "to extract a fresh copy.") from exc


def _field(batch: Any, key: str, path: Path) -> Any:
    """``batch[b'key']`` (as the original Python 2 pickles have it) or ``batch['key']``."""
    if isinstance(batch, dict):
        for candidate in (key.encode(), key):
            if candidate in batch:
                return batch[candidate]
    raise DatasetError(f"{path} has no {key!r} entry. Delete the folder {path.parent} and run again.")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 3072) uint8 and labels (n,) int64 of one batch file."""
    batch = _unpickle(path)
    images = _field(batch, "data", path)
    labels = np.asarray(_field(batch, "labels", path), dtype=np.int64)
    if not (isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 2
            and images.shape[1] == 3072 and labels.shape == images.shape[:1]):
        raise DatasetError(f"{path} does not hold uint8 images of shape (n, 3072) with n labels. "
                           f"Delete the folder {path.parent} and run again.")
    return images, labels


def _read_cifar10(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """All training images/labels, test images/labels (uint8 (n, 3072), int64 (n,)) and class names."""
    train = [_read_batch(folder / name) for name in CIFAR10_BATCHES]
    X_test, y_test = _read_batch(folder / "test_batch")
    names = _field(_unpickle(folder / "batches.meta"), "label_names", folder / "batches.meta")
    class_names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    X_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    return X_train, y_train, X_test, y_test, class_names


def load_cifar10(num_training: int = 49000, num_validation: int = 1000, num_test: int = 10000, *,
                 flatten: bool = True, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 root: str | os.PathLike | None = None, url: str = CIFAR10_URL, md5: str = CIFAR10_MD5,
                 download: bool = True) -> dict[str, Any]:
    """CIFAR-10, scaled to [0, 1] and centred with the mean image of the training split.

    The first ``num_training`` training images form the train split, the next ``num_validation``
    the validation split; the test split is the first ``num_test`` test images.

    Returns:
        The dict described in the module docstring; X is (N, 3072) or (N, 3, 32, 32).
    """
    X_all, y_all, X_test, y_test, class_names = _read_cifar10(fetch_cifar10(root, url, md5, download))
    fits = num_training + num_validation <= len(X_all) and num_test <= len(X_test)
    _check_sizes(num_training, num_validation, num_test, fits,
                 f"CIFAR-10 has {len(X_all)} training and {len(X_test)} test images")
    end = num_training + num_validation
    splits = {
        "train": (X_all[:num_training], y_all[:num_training]),
        "val": (X_all[num_training:end], y_all[num_training:end]),
        "test": (X_test[:num_test], y_test[:num_test]),
    }
    return _to_dataset("cifar10", splits, 255.0, CIFAR10_IMAGE_SHAPE, class_names, flatten, device, dtype)


def _check_sizes(num_training: int, num_validation: int, num_test: int, fits: bool, available: str) -> None:
    if num_training < 1 or num_validation < 0 or num_test < 0:
        raise ValueError("need num_training >= 1, num_validation >= 0 and num_test >= 0")
    if not fits:
        raise ValueError(f"asked for {num_training} training, {num_validation} validation and {num_test} test "
                         f"examples, but {available}")


# ------------------------------------------------------------------------- digits


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 digits as scikit-learn ships them: pixels (1797, 64) float64 in 0..16 and labels
    (1797,) int64, in scikit-learn's order (``sklearn.datasets.load_digits()``'s data and target).

    Read straight from the file bundled in scikit-learn's wheel: importing scikit-learn itself
    takes ~2 s (it pulls in SciPy), reading the file ~30 ms. Falls back to scikit-learn's loader
    if the file is not where it has been for years.
    """
    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    bundled = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec and spec.origin else None
    if bundled is not None and bundled.is_file():
        table = np.loadtxt(bundled, delimiter=",")
        return table[:, :-1], table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    return digits.data, digits.target.astype(np.int64)


def load_digits(num_training: int | None = None, num_validation: int = 200, num_test: int = 300, *,
                seed: int = 0, flatten: bool = True, device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """scikit-learn's 8x8 handwritten digits (1797 images, bundled with scikit-learn: no download).

    The examples are shuffled with ``seed`` and split into validation, test and train (the
    rest, or its first ``num_training``); pixels are scaled from 0..16 to [0, 1] and centred
    with the training mean.

    Returns:
        The dict described in the module docstring; X is (N, 64) or (N, 1, 8, 8).
    """
    X, y = digits_arrays()
    if num_training is None:
        num_training = len(X) - num_validation - num_test
    fits = num_training + num_validation + num_test <= len(X)
    _check_sizes(num_training, num_validation, num_test, fits, f"digits has {len(X)} images")
    order = np.random.default_rng(seed).permutation(len(X))
    val, test = order[:num_validation], order[num_validation:num_validation + num_test]
    train = order[num_validation + num_test:][:num_training]
    splits = {"train": (X[train], y[train]), "val": (X[val], y[val]), "test": (X[test], y[test])}
    class_names = [str(digit) for digit in range(10)]
    return _to_dataset("digits", splits, 16.0, DIGITS_IMAGE_SHAPE, class_names, flatten, device, dtype)


# ------------------------------------------------------------------------- common


def _to_dataset(name: str, splits: dict[str, tuple[np.ndarray, np.ndarray]], scale: float,
                image_shape: tuple[int, ...], class_names: list[str], flatten: bool,
                device: str | torch.device, dtype: torch.dtype) -> dict[str, Any]:
    """Tensors of ``splits``: X to ``dtype``, divided by ``scale``, minus the training mean."""
    inputs = {split: torch.from_numpy(np.ascontiguousarray(X)).to(dtype).div_(scale)
              for split, (X, _) in splits.items()}  # .to() copies (uint8 or fresh arrays), so div_ is safe
    mean = inputs["train"].mean(dim=0)
    shape = (math.prod(image_shape),) if flatten else image_shape
    dataset: dict[str, Any] = {"name": name, "class_names": class_names, "image_shape": image_shape}
    for split, (_, y) in splits.items():
        X = inputs[split].sub_(mean)
        dataset[f"X_{split}"] = X.reshape(len(X), *shape).to(device)
        dataset[f"y_{split}"] = torch.from_numpy(y.astype(np.int64)).to(device)
    dataset["mean_image"] = mean.reshape(shape).to(device)
    return dataset


def load_dataset(name: str = "auto", *, root: str | os.PathLike | None = None, **kwargs: Any) -> dict[str, Any]:
    """Load a dataset by name.

    Args:
        name: ``"cifar10"`` (downloads if needed), ``"digits"`` (offline), or ``"auto"``:
            CIFAR-10 if it is already cached in ``root`` (never downloads), otherwise digits. The
            choice is printed.
        root: CIFAR-10 cache folder (default :func:`data_dir`).
        **kwargs: passed to :func:`load_cifar10` or :func:`load_digits`.
    """
    if name == "auto":
        cached = cifar10_cached(root)
        name = "cifar10" if cached else "digits"
        where = _root(root)
        print(f"load_dataset: using CIFAR-10 cached in {where}" if cached else
              f"load_dataset: CIFAR-10 is not cached in {where}; using the offline digits dataset "
              "(load_dataset('cifar10') downloads CIFAR-10)")
        if cached:
            kwargs.setdefault("download", False)
    if name == "cifar10":
        return load_cifar10(root=root, **kwargs)
    if name == "digits":
        return load_digits(**kwargs)
    raise ValueError(f"Unknown dataset {name!r}; choose 'auto', 'cifar10' or 'digits'")
