"""WASI preview 1 as a sandbox, for guests built with wasi-libc, Rust's wasi target or TinyGo.

Offered only to a module that imports `wasi_snapshot_preview1`. The guest gets no files (no
preopened directories), no network, no environment and no arguments; stdin is empty; stdout
and stderr go, line by line, to the logger `wasmhooks.guest.<module>`; clocks and randomness work. WASI's
`proc_exit` ends the call: code 0 counts as the entry's normal result (see `GuestInstance`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import wasmtime

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


def _output(logger: logging.Logger, level: int) -> Callable[[bytes], int]:
    def write(data: bytes) -> int:
        for line in data.decode("utf-8", "replace").splitlines():
            logger.log(level, "%s", line)
        return len(data)

    return write


def sandbox_config(module: str) -> wasmtime.WasiConfig:
    """A fresh WASI configuration for `module`: no capabilities but clocks, randomness and logging.

    Output goes to the logger `wasmhooks.guest.<module>`, stdout at INFO and stderr at
    WARNING, one record per line of each write.
    """
    logger = logging.getLogger(f"wasmhooks.guest.{module}")
    config = wasmtime.WasiConfig()
    config.stdout_custom = _output(logger, logging.INFO)
    config.stderr_custom = _output(logger, logging.WARNING)
    return config
