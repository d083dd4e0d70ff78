"""The REST API for modules, versions and bindings: include `wasmhooks.api.urls`."""
