"""Cache fitted intent classifiers in process and on disk, keyed by a hash of what shaped them.

The key is SHA-256 over: the classifier code version, the scikit-learn version, the
slang table digest, the training hyper-parameters and the training examples. The
fallback threshold is not part of it (it is applied after loading).

On disk a model is one ``<key>.npz`` of plain numpy arrays, read with
``allow_pickle=False``, so a cache file can never execute code. The directory
(``$AMAN_CACHE_DIR/nlu`` or ``~/.cache/aman/nlu``) is created 0700 and files 0600;
a directory owned by someone else or writable by group/others is not used.
Unreadable, corrupt or mismatching files are ignored and replaced.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import tempfile
import threading
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np

from aman.nlu.classifier import CODE_VERSION, ClassifierConfig, IntentClassifier
from aman.nlu.data import BotNluData
from aman.nlu.errors import NluDataError
from aman.nlu.normalize import default_normalizer

__all__ = ["ModelCache", "default_cache_dir", "training_key"]

log = logging.getLogger(__name__)

_MEMORY: dict[str, IntentClassifier] = {}
_MEMORY_LOCK = threading.Lock()


def _sklearn_version() -> str:
    try:
        return metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        return "unknown"


def training_key(data: BotNluData, config: ClassifierConfig) -> str:
    """Content hash identifying the model that ``data`` + ``config`` would train."""
    payload = {
        "code": CODE_VERSION,
        "sklearn": _sklearn_version(),
        "slang": default_normalizer().table.digest,
        "config": config.as_dict(),
        "intents": [[name, list(texts)] for name, texts in data.intents.items()],
        "out_of_scope": list(data.out_of_scope),
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def default_cache_dir() -> Path:
    """``$AMAN_CACHE_DIR`` if set, else ``~/.cache/aman``."""
    env = os.environ.get("AMAN_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "aman"


class ModelCache:
    """Two-level model cache; ``directory=None`` keeps it in memory only."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory / "nlu" if directory is not None else None

    # ------------------------------------------------------------------ memory
    @staticmethod
    def get_memory(key: str) -> IntentClassifier | None:
        """Model fitted earlier in this process, if any."""
        with _MEMORY_LOCK:
            return _MEMORY.get(key)

    @staticmethod
    def put_memory(key: str, model: IntentClassifier) -> None:
        """Remember a model for this process."""
        with _MEMORY_LOCK:
            _MEMORY[key] = model

    @staticmethod
    def forget_memory(key: str) -> None:
        """Drop one in-process model (no error if absent)."""
        with _MEMORY_LOCK:
            _MEMORY.pop(key, None)

    @staticmethod
    def clear_memory() -> None:
        """Forget every in-process model (tests, reloads)."""
        with _MEMORY_LOCK:
            _MEMORY.clear()

    # -------------------------------------------------------------------- disk
    def _usable_dir(self, create: bool) -> Path | None:
        directory = self.directory
        if directory is None:
            return None
        try:
            if create:
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = directory.stat()
        except OSError:
            return None
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            log.warning("nlu model cache %s is owned by another user; not used", directory)
            return None
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            log.warning("nlu model cache %s is group/world writable; not used", directory)
            return None
        return directory

    def load(self, key: str) -> IntentClassifier | None:
        """Model stored on disk under ``key``; None when absent or not trustworthy."""
        directory = self._usable_dir(create=False)
        if directory is None:
            return None
        path = directory / f"{key}.npz"
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            if str(arrays.pop("cache_key")[()]) != key:
                raise NluDataError("cache key mismatch")
            return IntentClassifier.from_arrays(arrays)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, NluDataError) as exc:
            log.warning("ignoring unusable nlu cache file %s: %s", path.name, exc)
            return None

    def store(self, key: str, model: IntentClassifier) -> Path | None:
        """Write ``model`` atomically; returns the path, or None if the cache is unusable."""
        directory = self._usable_dir(create=True)
        if directory is None:
            return None
        arrays = model.to_arrays()
        arrays["cache_key"] = np.array(key, dtype=np.str_)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, allow_pickle=False, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            final = directory / f"{key}.npz"
            os.replace(tmp_name, final)
            return final
        except OSError as exc:
            log.warning("could not write nlu cache file: %s", exc)
            Path(tmp_name).unlink(missing_ok=True)
            return None
