"""WASI preview 1 as a sandbox, for guests built with wasi-libc, Rust's wasi target or TinyGo.

Offered only to a module that imports `wasi_snapshot_preview1`. The guest gets no files (no
preopened directories), no network, no environment and no arguments; stdin is empty; stdout
and stderr go, line by line, to the module's logger; clocks and randomness work. WASI's
`proc_exit` ends the call: code 0 counts as the entry's normal result (see `GuestInstance`).
"""

from __future__ import annotations

import logging

import wasmtime

from wasmhooks.runtime import current_frame

IMPORT_MODULE = "wasi_snapshot_preview1"

# Every function of WASI preview 1; wasmtime defines them all, we hand out no capabilities.
FUNCTION_NAMES = frozenset(
    [
        "args_get",
        "args_sizes_get",
        "environ_get",
        "environ_sizes_get",
        "clock_res_get",
        "clock_time_get",
        "fd_advise",
        "fd_allocate",
        "fd_close",
        "fd_datasync",
        "fd_fdstat_get",
        "fd_fdstat_set_flags",
        "fd_fdstat_set_rights",
        "fd_filestat_get",
        "fd_filestat_set_size",
        "fd_filestat_set_times",
        "fd_pread",
        "fd_prestat_get",
        "fd_prestat_dir_name",
        "fd_pwrite",
        "fd_read",
        "fd_readdir",
        "fd_renumber",
        "fd_seek",
        "fd_sync",
        "fd_tell",
        "fd_write",
        "path_create_directory",
        "path_filestat_get",
        "path_filestat_set_times",
        "path_link",
        "path_open",
        "path_readlink",
        "path_remove_directory",
        "path_rename",
        "path_symlink",
        "path_unlink_file",
        "poll_oneoff",
        "proc_exit",
        "proc_raise",
        "sched_yield",
        "random_get",
        "sock_accept",
        "sock_recv",
        "sock_send",
        "sock_shutdown",
    ]
)


def _logger() -> tuple[logging.Logger, str]:
    frame = current_frame()
    module = frame.module if frame is not None else "unknown"
    state = frame.state if frame is not None else None
    logger = getattr(state, "logger", None)
    if not isinstance(logger, logging.Logger):
        logger = logging.getLogger(f"wasmhooks.guest.{module}")
    return logger, module


def _stdout(data: bytes) -> int:
    logger, _module = _logger()
    for line in data.decode("utf-8", "replace").splitlines():
        logger.info("%s", line)
    return len(data)


def _stderr(data: bytes) -> int:
    logger, _module = _logger()
    for line in data.decode("utf-8", "replace").splitlines():
        logger.warning("%s", line)
    return len(data)


def sandbox_config() -> wasmtime.WasiConfig:
    """A fresh WASI configuration with no capabilities but clocks, randomness and logging."""
    config = wasmtime.WasiConfig()
    config.stdout_custom = _stdout
    config.stderr_custom = _stderr
    return config
