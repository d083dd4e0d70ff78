"""Who may use the API: by default, authenticated users with the matching model permissions.

`WASMHOOKS_API_PERMISSION_CLASSES` names the classes that guard every endpoint (default:
`ModelPermissions`). Trying a module runs its code, so the try-it endpoint also always needs
`CanTryModules`, whatever that setting says.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_permission_codename
from django.db.models import Model
from django.utils.translation import ngettext
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission, DjangoModelPermissions
from rest_framework.request import Request
from rest_framework.views import APIView

TRY_PERMISSION = "wasmhooks.try_wasmmodule"


class ModelPermissions(DjangoModelPermissions):
    """Django model permissions, with `view` required to read (DRF's default lets any user read).

    A view may say which model's permissions apply (`permission_model`; a module version's are
    its module's) and which permission an action needs whatever its HTTP method
    (`action_permissions`, e.g. `{"activate": "change"}`), and which relations a deletion
    takes along (`delete_cascades`), whose delete permissions it then needs too.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_object_permission(self, request: Request, view: APIView, obj: Model) -> bool:
        """True, unless a DELETE would take along related rows the user may not delete.

        The view names the relations its deletions cascade to (`delete_cascades`, e.g.
        `("bindings", "versions")`); like the admin, deleting `obj` then also needs the delete
        permission of each model with rows among them. Raises `PermissionDenied` naming the
        missing permissions.
        """
        if request.method != "DELETE":
            return True
        missing: dict[str, str] = {}
        for relation in getattr(view, "delete_cascades", ()):
            related = getattr(obj, relation)
            opts = related.model._meta
            permission = f"{opts.app_label}.{get_permission_codename('delete', opts)}"
            if not request.user.has_perm(permission) and related.exists():
                missing[permission] = str(opts.verbose_name_plural)
        if missing:
            raise PermissionDenied(
                f"Deleting {str(obj)!r} also deletes its {' and '.join(missing.values())}, which needs the "
                f"{' and '.join(missing)} {ngettext('permission', 'permissions', len(missing))}."
            )
        return True

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Whether the user is authenticated and holds every permission the request needs.

        Raises `MethodNotAllowed` for a method outside `perms_map`.
        """
        user = request.user
        if not user or not user.is_authenticated:
            return False
        model: type[Model] = getattr(view, "permission_model", None) or self._queryset(view).model
        verb = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if verb is None:
            required = self.get_required_permissions(request.method or "", model)
        else:
            required = [f"{model._meta.app_label}.{verb}_{model._meta.model_name}"]
        return bool(user.has_perms(required))


class CanTryModules(BasePermission):
    """The user holds `wasmhooks.try_wasmmodule`: they may run a module on a made-up request."""

    message = f"Trying a module needs the {TRY_PERMISSION} permission."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm(TRY_PERMISSION))
