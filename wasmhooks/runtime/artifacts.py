"""Compiled modules on disk: signed, sealed, and compiled once per host.

For each module (by sha256), engine fingerprint and signing key, the cache folder holds
`<sha256>-<fingerprint>-<key id>` with three extensions:

- `.cwasm`: the artifact, `Module.serialize()` as is. It is native code.
- `.sig`: the signature, an HMAC over the module's sha256, the fingerprint, the description
  and the artifact; the seal, an HMAC over the signature, the description and the `.cwasm`
  file's inode number, size, mtime and ctime when a process of this host last checked the
  signature; then the description, bytes the caller stores with the artifact (what the module
  imports and exports, which takes a millisecond to ask wasmtime again).
- `.lock`: locked (`flock`) while a process looks for the artifact and compiles, so the
  processes of a host that want a new module at once compile it once.

A sealed artifact loads without hashing it: the file must belong to our user, be writable by
no one else and still have the inode, size and times it was sealed with; wasmtime then maps
that very file (opened once, handed over as `/dev/fd/N`). Any other artifact is read into
memory, its signature checked over those bytes, and deserialized from them; if it is ours it
is sealed for next time. A file whose signature does not hold is ignored and replaced, never
run. Not detected: a process of our own user rewriting an artifact in place within one tick of
the file system's clock after its seal; such a process can already write our memory.

wasmhooks never changes an artifact in place (it writes a new file and renames it), so
deleting the folder is safe while processes run; truncating a mapped file in place is not.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import importlib
import logging
import os
import stat
import struct
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import wasmtime

from . import engine as engine_module

logger = logging.getLogger("wasmhooks.runtime")

SIGNATURE_BYTES = 32
MAX_FILE_BYTES = 1024**3
"""Larger files in the folder are not ours: ignored, never read."""
LOCK_TIMEOUT = 60.0
"""Seconds a process waits for another one compiling the same module before compiling it too."""

_IDENTITY = struct.Struct("<QQqq")
_LENGTH = struct.Struct("<Q")
_HEAD = 2 * SIGNATURE_BYTES  # signature and seal, before the description
# An open file can be opened again by number here, so wasmtime maps the very file we checked.
_FD_FOLDER: str | None = "/dev/fd" if os.path.isdir("/dev/fd") else None
# No flock on Windows: there every process compiles the modules it lacks.
_fcntl: ModuleType | None = importlib.import_module("fcntl") if os.name == "posix" else None

Buffer = bytes | bytearray | memoryview
# Never through a symbolic link (another user of the folder could point it anywhere), and never
# waiting on a FIFO put in a file's place.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


class ArtifactStore:
    """The compiled modules of one cache folder, signed with one key."""

    def __init__(self, folder: str | os.PathLike[str], key: bytes) -> None:
        self.folder = Path(folder)
        self._key = hashlib.sha256(b"wasmhooks.compiled-module:" + key).digest()
        # Projects with different keys may share a folder without replacing each other's files.
        key_id = hmac.new(self._key, b"file names", hashlib.sha256).hexdigest()[:8]
        self._stem_end = f"-{engine_module.fingerprint()}-{key_id}"
        self._warned = False

    def path(self, sha256: str, extension: str) -> Path:
        """The file `<sha256>-<fingerprint>-<key id><extension>` in the folder."""
        return self.folder / f"{sha256}{self._stem_end}{extension}"

    def sign(self, sha256: str, artifact: Buffer, description: bytes) -> bytes:
        """The signature of `artifact` and `description` as the compiled module `sha256`."""
        mac = hmac.new(self._key, f"{sha256}:{engine_module.fingerprint()}:".encode(), hashlib.sha256)
        mac.update(_LENGTH.pack(len(description)) + description)
        mac.update(artifact)
        return mac.digest()

    def _seal(self, sha256: str, signature: bytes, status: os.stat_result, description: bytes) -> bytes:
        """What vouches, without hashing the artifact, for its file as `status` describes it,
        as the compiled module `sha256` (so no other module's files can pass for it), and for
        the description stored beside the seal."""
        identity = _IDENTITY.pack(status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
        module = f"{sha256}:{engine_module.fingerprint()}:".encode()
        message = b"seal:" + module + signature + identity + description
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def load_sealed(
        self, sha256: str, engine: wasmtime.Engine | None = None
    ) -> tuple[wasmtime.Module, bytes] | None:
        """The module from its sealed artifact, for `engine` (by default the process's), and
        its description; or None. Reads the `.sig` file, not the artifact (wasmtime maps it)."""
        if _FD_FOLDER is None:
            return None
        record = _read(self.path(sha256, ".sig"))
        if record is None or len(record) < _HEAD:
            return None
        signature, seal, description = record[:SIGNATURE_BYTES], record[SIGNATURE_BYTES:_HEAD], record[_HEAD:]
        try:
            fd = os.open(self.path(sha256, ".cwasm"), _READ_FLAGS)
        except OSError:
            return None
        try:
            status = os.fstat(fd)
            if not (
                _ours(status)
                and hmac.compare_digest(seal, self._seal(sha256, signature, status, description))
            ):
                return None
            module = wasmtime.Module.deserialize_file(
                engine or engine_module.get_engine(), f"{_FD_FOLDER}/{fd}"
            )
            return module, description
        except wasmtime.WasmtimeError:
            return None  # load_checked reads it again and says why
        finally:
            os.close(fd)

    def load_checked(self, sha256: str) -> tuple[wasmtime.Module, bytes] | None:
        """The module and its description from a sealed artifact, else from one whose signature
        holds over the bytes read (then sealed, if the file is ours); else None, logging why if
        a file was there.

        Call it holding `lock(sha256)`: it may write the `.sig` file.
        """
        sealed = self.load_sealed(sha256)
        if sealed is not None:
            return sealed
        path = self.path(sha256, ".cwasm")
        # The status is taken before reading: if the file changes meanwhile, the seal will not match it.
        found = _read_with_status(path)
        if found is None:
            return None
        artifact, status = found
        record = _read(self.path(sha256, ".sig")) or b""
        signature, description = record[:SIGNATURE_BYTES], record[_HEAD:]
        if not hmac.compare_digest(signature, self.sign(sha256, artifact, description)):
            logger.warning("ignoring unsigned or tampered compiled module %s", path)
            return None
        try:
            module = wasmtime.Module.deserialize(engine_module.get_engine(), artifact)
        except wasmtime.WasmtimeError as exc:
            logger.warning("cannot load compiled module %s: %s", path, one_line(exc))
            return None
        if _FD_FOLDER is not None and _ours(status):
            seal = self._seal(sha256, signature, status, description)
            self._write(self.path(sha256, ".sig"), signature + seal + description)
        return module, description

    def store(self, sha256: str, module: wasmtime.Module, description: bytes) -> None:
        """Write the artifact of `module` with its description, signed and sealed. Call it
        holding `lock(sha256)`.

        A folder that cannot be written is logged (once per store) and otherwise ignored.
        """
        artifact = module.serialize()
        signature = self.sign(sha256, artifact, description)
        status = self._write(self.path(sha256, ".cwasm"), artifact)
        if status is not None:
            self._write(
                self.path(sha256, ".sig"),
                signature + self._seal(sha256, signature, status, description) + description,
            )

    @contextmanager
    def lock(self, sha256: str) -> Iterator[None]:
        """Hold this host's lock on the module `sha256` for the block.

        Waits for a process that holds it, up to `LOCK_TIMEOUT` seconds; a process that dies
        releases it. Without it (no `flock` here, a folder that cannot be written, a timeout)
        the block runs anyway, and at worst two processes compile the same module.
        """
        fcntl = _fcntl
        fd = None if fcntl is None else self._open_lock(sha256)
        if fcntl is None or fd is None:
            yield
            return
        held = self._acquire(fcntl, fd, sha256)
        try:
            yield
        finally:
            if held:
                # Released explicitly, not by close: a child forked meanwhile shares it.
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _open_lock(self, sha256: str) -> int | None:
        path = self.path(sha256, ".lock")
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
        except OSError as exc:
            self._cannot_write(path, exc)
            return None

    def _acquire(self, fcntl: ModuleType, fd: int, sha256: str) -> bool:
        deadline = time.monotonic() + LOCK_TIMEOUT
        pause = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    logger.warning(
                        "waited %.0f s for another process compiling %s; compiling it here too",
                        LOCK_TIMEOUT,
                        self.path(sha256, ".cwasm"),
                    )
                    return False
                time.sleep(pause)
                pause = min(2 * pause, 0.05)
            except OSError as exc:  # e.g. a network file system without locks
                logger.warning("cannot lock %s (%s); compiling without it", self.path(sha256, ".lock"), exc)
                return False

    def _write(self, path: Path, data: Buffer) -> os.stat_result | None:
        """Replace `path` with `data` at once; the written file's status, or None if it failed."""
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=path.suffix)
        except OSError as exc:
            self._cannot_write(path, exc)
            return None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())  # on disk before it has its name, should the power fail
                os.replace(temporary, path)
                return os.fstat(handle.fileno())  # after the rename, which may change the ctime
        except OSError as exc:
            with contextlib.suppress(FileNotFoundError):  # gone if the rename was done
                os.unlink(temporary)
            self._cannot_write(path, exc)
            return None

    def _cannot_write(self, path: Path, exc: OSError) -> None:
        log = logger.debug if self._warned else logger.warning
        self._warned = True
        log(
            "cannot write compiled module cache %s: %s; each process compiles the modules it loads", path, exc
        )


def _ours(status: os.stat_result) -> bool:
    """Whether only our user (or root) can have written this regular file."""
    return (
        stat.S_ISREG(status.st_mode)
        and status.st_uid == os.geteuid()
        and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _read(path: Path) -> bytes | None:
    found = _read_with_status(path)
    return None if found is None else found[0]


def _read_with_status(path: Path) -> tuple[bytes, os.stat_result] | None:
    """The bytes of the regular file `path` (not through a symbolic link, at most
    `MAX_FILE_BYTES`) and its status as it was before they were read; None otherwise."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return None
        data = bytearray()
        while len(data) <= MAX_FILE_BYTES and (chunk := os.read(fd, 1 << 20)):
            data += chunk
    except OSError:  # an I/O error: as if the file were not there
        return None
    finally:
        os.close(fd)
    return (bytes(data), status) if len(data) <= MAX_FILE_BYTES else None


def one_line(exc: BaseException) -> str:
    """wasmtime's message on one line: the summary, then each cause ("a: b: c")."""
    lines = [line.strip() for line in str(exc).splitlines()]
    parts = [line for line in lines if line and line != "Caused by:"]
    return ": ".join(parts) if parts else type(exc).__name__
