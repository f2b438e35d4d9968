"""A directory that is consistent at every instant: atomic multi-file commits under a manifest, and a run lock.

:func:`commit` writes a set of files as one unit, in the manner of a write-ahead log:

1. every new file is written (and fsynced) into ``DIR/.pending/``;
2. ``DIR/.pending/manifest.json`` (names and SHA-256 hashes of the whole new set) is written atomically: the
   commit point;
3. each file is moved (``os.replace``) from ``.pending/`` to ``DIR/``, the manifest last, and ``.pending/`` removed.

A kill before step 2 leaves the old files and the old manifest untouched (the half-written ``.pending/`` has no
manifest and is ignored); a kill during step 3 leaves a pending manifest whose files each lie either still in
``.pending/`` or already in ``DIR/`` with the new content, so :func:`resolve` finds the new set, and the next
:func:`commit` (or :func:`recover`) finishes the moves. Either the old or the new set is valid, never a mixture.

:func:`run_lock` holds an exclusive ``flock`` on ``DIR/.lock`` that the kernel releases when the process dies
(SIGKILL included), so a second writer is refused while a crashed run can be resumed at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path

from genlab.errors import CheckpointError

__all__ = ["MANIFEST", "PENDING", "LOCK", "commit", "recover", "resolve", "sha256", "run_lock", "check_writable"]

MANIFEST = "manifest.json"
PENDING = ".pending"
LOCK = ".lock"
FORMAT = "genlab-manifest/1"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _entries(manifest: Path) -> dict[str, str]:
    """``name -> sha256`` of a manifest file; CheckpointError when it is unreadable or malformed."""
    try:
        meta = json.loads(manifest.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{manifest} is not readable JSON ({exc.__class__.__name__})") from None
    files = meta.get("files") if isinstance(meta, dict) else None
    if (not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(files, dict)
            or not all(isinstance(k, str) and "/" not in k and isinstance(v, str) for k, v in files.items())):
        raise CheckpointError(f"{manifest} is not a genlab manifest")
    return dict(files)


def recover(directory) -> None:
    """Finish a commit that was interrupted after its commit point; drop one interrupted before it."""
    directory = Path(directory)
    pending = directory / PENDING
    if not pending.is_dir():
        return
    if (pending / MANIFEST).is_file():
        for f in sorted(pending.iterdir()):
            if f.name != MANIFEST:
                os.replace(f, directory / f.name)
        os.replace(pending / MANIFEST, directory / MANIFEST)
        _fsync_dir(directory)
    shutil.rmtree(pending, ignore_errors=True)


def commit(directory, files: dict[str, bytes], *, keep_others: bool = True) -> None:
    """Write ``files`` (name -> content) into ``directory`` as one atomic unit (see the module docstring).

    The new manifest lists ``files`` plus, when ``keep_others``, the entries of the current manifest that are not
    rewritten; files listed before but not kept are deleted after the commit."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    recover(directory)
    old = _entries(directory / MANIFEST) if (directory / MANIFEST).is_file() else {}
    pending = directory / PENDING
    pending.mkdir()
    entries = {k: v for k, v in old.items() if keep_others and k not in files}
    for name, data in files.items():
        _write(pending / name, data)
        entries[name] = sha256(data)
    meta = {"format": FORMAT, "files": dict(sorted(entries.items()))}
    _write(pending / (MANIFEST + ".tmp"), json.dumps(meta, indent=2).encode())
    _fsync_dir(pending)
    os.replace(pending / (MANIFEST + ".tmp"), pending / MANIFEST)  # the commit point
    _fsync_dir(pending)
    recover(directory)
    for name in set(old) - set(entries):
        (directory / name).unlink(missing_ok=True)


def resolve(directory) -> dict[str, tuple[Path, str]] | None:
    """``name -> (path, sha256)`` of the valid file set of ``directory``; None when it has no manifest
    (a directory written before manifests existed)."""
    directory = Path(directory)
    pending = directory / PENDING
    if (pending / MANIFEST).is_file():
        files = _entries(pending / MANIFEST)
        return {k: ((pending / k) if (pending / k).exists() else (directory / k), v) for k, v in files.items()}
    if (directory / MANIFEST).is_file():
        return {k: (directory / k, v) for k, v in _entries(directory / MANIFEST).items()}
    return None


@contextlib.contextmanager
def run_lock(directory):
    """Hold an exclusive lock on ``directory`` (created if needed) for the duration of the block.

    CheckpointError when another live process holds it. The lock dies with the process."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise CheckpointError(f"run directory '{directory}' is in use by another process (pid {holder}); "
                                  "wait for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield directory
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def check_writable(directory) -> Path:
    """Create ``directory`` if needed and prove a file can be written in it; CheckpointError otherwise."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".write-test-{os.getpid()}"
        _write(probe, b"ok")
        probe.unlink()
    except OSError as exc:
        raise CheckpointError(f"cannot write to run directory '{directory}': {exc.strerror or exc}") from None
    return directory
