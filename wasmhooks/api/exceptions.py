"""The API's own errors, beyond DRF's: 413 for a module too large, 409 for one that cannot run."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import APIException

NAME_CODES = frozenset({"invalid_name", "name_in_settings"})


class ModuleTooLarge(APIException):
    """413: the uploaded file is larger than `WASMHOOKS_MAX_MODULE_BYTES`."""

    status_code = 413
    default_detail = "The module is too large."
    default_code = "too_large"


class ModuleNotRunnable(APIException):
    """409: the module has no active version to try, or the version does not load."""

    status_code = 409
    default_detail = "The module cannot run."
    default_code = "not_runnable"


def upload_error(error: DjangoValidationError) -> APIException:
    """The API error for a `ValidationError` from `wasmhooks.uploads`, keyed by the field at fault.

    `too_large` becomes `ModuleTooLarge` (413); every other code a 400 on `name` or `file`.
    """
    field = "name" if error.code in NAME_CODES else "file"
    detail = {field: list(error.messages)}
    if error.code == "too_large":
        return ModuleTooLarge(detail)
    return serializers.ValidationError(detail, code=error.code)
