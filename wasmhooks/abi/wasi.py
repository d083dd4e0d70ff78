"""WASI preview 1 as a sandbox, for guests built with wasi-libc, Rust's wasi target or TinyGo.

Offered only to a module that imports `wasi_snapshot_preview1`. The guest gets no files (no
preopened directories), no network, no environment and no arguments; stdin is empty; stdout
and stderr go, line by line and within bounds, to the logger `wasmhooks.guest.<module>`;
clocks and randomness work; `poll_oneoff` (sleeping) is refused with ENOSYS, since a host
call cannot be interrupted at the deadline. WASI's `proc_exit` ends the call: code 0 counts
as the entry's normal result (see `GuestInstance`).
"""

from __future__ import annotations

import logging
import time

import wasmtime

from wasmhooks.runtime import CallFrame, HostFunction

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


# errno values of WASI preview 1.
ENOSYS = 52

# Output is logged line by line, within these bounds per instance, so that a guest writing
# megabytes in one call costs the host neither the time nor the log volume.
MAX_WRITE_BYTES = 64 * 1024
MAX_LINES_PER_SECOND = 1000


def _no_poll(frame: CallFrame, subscriptions: int, events: int, count: int, nevents: int) -> int:
    # `poll_oneoff` is how WASI sleeps, and it would sleep inside the host call, where the
    # epoch deadline cannot stop it. A hook has no file or socket to wait on either.
    return ENOSYS


OVERRIDES: tuple[HostFunction, ...] = (
    HostFunction(IMPORT_MODULE, "poll_oneoff", ("i32", "i32", "i32", "i32"), ("i32",), _no_poll),
)
"""WASI functions the sandbox replaces; define them after (shadowing) wasmtime's own."""


class GuestOutput:
    """stdout or stderr of one instance: each line a record on the module's logger.

    At most `MAX_WRITE_BYTES` of each write are read, and at most `MAX_LINES_PER_SECOND`
    lines are logged a second; past that, lines are dropped and one warning says so.
    """

    def __init__(self, logger: logging.Logger, level: int) -> None:
        self.logger = logger
        self.level = level
        self.second = 0
        self.lines = 0

    def __call__(self, data: bytes) -> int:
        now = int(time.monotonic())
        if now != self.second:
            self.second, self.lines = now, 0
        for line in data[:MAX_WRITE_BYTES].decode("utf-8", "replace").splitlines():
            self.lines += 1
            if self.lines > MAX_LINES_PER_SECOND:
                if self.lines == MAX_LINES_PER_SECOND + 1:
                    self.logger.warning(
                        "more than %d lines of output a second: the rest are dropped", MAX_LINES_PER_SECOND
                    )
                break
            self.logger.log(self.level, "%s", line)
        return len(data)


def sandbox_config(module: str, logger: logging.Logger | None = None) -> wasmtime.WasiConfig:
    """A fresh WASI configuration for `module`: no capabilities but clocks, randomness and logging.

    Output goes to `logger` (by default `wasmhooks.guest.<module>`), stdout at INFO and
    stderr at WARNING (see `GuestOutput`). Use it with `OVERRIDES` defined on the same linker.
    """
    logger = logger or logging.getLogger(f"wasmhooks.guest.{module}")
    config = wasmtime.WasiConfig()
    config.stdout_custom = GuestOutput(logger, logging.INFO)
    config.stderr_custom = GuestOutput(logger, logging.WARNING)
    return config
