"""`wasmhooks_upload`, `wasmhooks_list`, `wasmhooks_try`, `wasmhooks_bind` and `wasmhooks_unbind`."""
