"""Signals wasmhooks sends.

`hook_failed` is sent after a hook fails and has been logged and counted, with the keyword
arguments `binding` (a `Binding`; for `wasmhooks.call`, one named "call(function)" without
a pattern), `phase` ("on_request", "on_response" or "call"), `error` (a `HookError`) and
`request` (or None).
"""

from django.dispatch import Signal

hook_failed = Signal()
