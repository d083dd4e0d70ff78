"""The API's views: modules, their versions, bindings, trying a module, and the OpenAPI schema.

Every view reads its authentication (`REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]`)
and permissions (`WASMHOOKS_API_PERMISSION_CLASSES`) from the settings on each request, so
`override_settings` works. Changes go through `save()` and `delete()` (or `wasmhooks.uploads`),
so every process picks them up.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.module_loading import import_string
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

import wasmhooks
from wasmhooks import uploads
from wasmhooks.conf import conf
from wasmhooks.models import HookBinding, WasmModule, WasmModuleVersion
from wasmhooks.routing import MODULE_NAME
from wasmhooks.runtime import ModuleInvalid
from wasmhooks.tryit import default_limits, load_version, try_module

from .exceptions import ModuleNotRunnable, upload_error
from .permissions import CanTryModules
from .serializers import (
    HookBindingSerializer,
    ModuleTryResultSerializer,
    ModuleTrySerializer,
    WasmModuleSerializer,
    WasmModuleUploadSerializer,
    WasmModuleVersionSerializer,
    WasmModuleVersionUploadSerializer,
)

MODULE_NAME_REGEX = MODULE_NAME.pattern.removeprefix("^").removesuffix("$")
VERSION_NUMBER_REGEX = "[0-9]+"

AUTH_ERRORS = {
    401: OpenApiResponse(description="Not authenticated (403 when session authentication comes first)."),
    403: OpenApiResponse(description="Not allowed: a permission is missing."),
}
READ_ERRORS = {**AUTH_ERRORS, 404: OpenApiResponse(description="No such module, version or binding.")}
INPUT_ERROR = {400: OpenApiResponse(description="Invalid input: the body names each field at fault.")}
TOO_LARGE = {413: OpenApiResponse(description="The file is over WASMHOOKS_MAX_MODULE_BYTES.")}
VERSION_NUMBER = OpenApiParameter("number", int, OpenApiParameter.PATH, description="The version number.")


def modules() -> QuerySet[WasmModule]:
    """Modules as the API shows them: with their active version and how many versions they have."""
    # Ordered here: Meta.ordering does not apply to a query with aggregates.
    annotated = WasmModule.objects.annotate(version_count=Count("versions"))
    return annotated.select_related("active_version__module").order_by("name")


class HooksViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """The base of the API's view sets: authentication and permissions read from the settings live."""

    schema = AutoSchema()

    def get_authenticators(self) -> list[BaseAuthentication]:
        """One of each class in `REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]`, as set now."""
        # The stubs type this setting as dotted paths; DRF has imported them by now.
        classes = cast("Sequence[type[BaseAuthentication]]", api_settings.DEFAULT_AUTHENTICATION_CLASSES)
        return [authenticator() for authenticator in classes]

    def get_permissions(self) -> list[BasePermission]:
        """One of each class named in `WASMHOOKS_API_PERMISSION_CLASSES`.

        Raises `ImportError` for a path that names no class.
        """
        return [import_string(path)() for path in conf.API_PERMISSION_CLASSES]


@extend_schema(tags=["wasmhooks modules"])
@extend_schema_view(
    list=extend_schema(
        summary="List the stored modules", responses={200: WasmModuleSerializer(many=True), **AUTH_ERRORS}
    ),
    retrieve=extend_schema(
        summary="A module and its active version", responses={200: WasmModuleSerializer, **READ_ERRORS}
    ),
    destroy=extend_schema(
        summary="Delete a module, its versions and its bindings",
        description=(
            "Needs delete_wasmmodule, and as in the admin, delete_wasmmoduleversion if the module has "
            "versions and delete_hookbinding if it has bindings; a 403 names what is missing."
        ),
        responses={204: None, **READ_ERRORS},
    ),
)
class ModuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, HooksViewSet):
    """Stored hook modules, by name.

    Listing and reading need `view_wasmmodule`, uploading `add_wasmmodule`, deleting
    `delete_wasmmodule` (and, with `ModelPermissions`, the delete permission of the versions
    and bindings it takes along, if it has any); trying needs `view_wasmmodule` and
    `try_wasmmodule`.
    """

    queryset = modules()
    serializer_class = WasmModuleSerializer
    lookup_field = "name"
    lookup_value_regex = MODULE_NAME_REGEX
    parser_classes = [MultiPartParser]
    action_permissions = {"try_it": "view"}
    delete_cascades = ("bindings", "versions")

    def get_permissions(self) -> list[BasePermission]:
        """The configured permissions, plus `CanTryModules` for the try-it endpoint."""
        permissions = super().get_permissions()
        if self.action == "try_it":
            permissions.append(CanTryModules())
        return permissions

    @extend_schema(
        summary="Upload a new module",
        request=WasmModuleUploadSerializer,
        responses={201: WasmModuleSerializer, **AUTH_ERRORS, **INPUT_ERROR, **TOO_LARGE},
    )
    def create(self, request: Request) -> Response:
        """Store the uploaded file as version 1 of a new module, in force at once.

        Raises `ValidationError` (400) for a bad name or file, `ModuleTooLarge` (413).
        """
        upload = WasmModuleUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        try:
            result = uploads.store_upload(
                data["name"], data["file"], user=request.user, description=data["description"]
            )
        except DjangoValidationError as exc:
            raise upload_error(exc) from None
        module = self.get_serializer(modules().get(pk=result.module.pk)).data
        return Response(module, status=status.HTTP_201_CREATED, headers={"Location": module["url"]})

    @extend_schema(
        summary="Run the module's hooks on a made-up request",
        description=(
            "Runs on_request and on_response as the middleware would, in a fresh instance with a "
            "throwaway key-value store. A failing guest is reported in `failures`, still with 200. "
            "Needs the wasmhooks.try_wasmmodule permission."
        ),
        request=ModuleTrySerializer,
        responses={
            200: ModuleTryResultSerializer,
            **READ_ERRORS,
            **INPUT_ERROR,
            409: OpenApiResponse(description="No active version, or the version does not load."),
        },
    )
    @action(detail=True, methods=["post"], url_path="try", url_name="try", parser_classes=[JSONParser])
    def try_it(self, request: Request, name: str) -> Response:
        """Try the module on the request described.

        Raises `ValidationError` (400) for bad input or an unknown version, `ModuleNotRunnable`
        (409) when there is no version to try or it does not load.
        """
        module = self.get_object()
        trial = ModuleTrySerializer(data=request.data)
        trial.is_valid(raise_exception=True)
        params = trial.validated_data
        version = self._version_to_try(module, params.get("version"))
        try:
            loaded = load_version(version)
        except ModuleInvalid as exc:
            raise ModuleNotRunnable(
                f"Version {version.number} of {module.name!r} does not load: {exc.message}"
            ) from None
        result = try_module(
            loaded,
            method=params["method"],
            path=params["path"],
            headers=params["headers"],
            body=params["body"],
            config=params["config"],
            limits=default_limits(params.get("timeout_ms")),
        )
        return Response(ModuleTryResultSerializer({"version": version.number, **result.as_dict()}).data)

    def _version_to_try(self, module: WasmModule, number: int | None) -> WasmModuleVersion:
        if number is None:
            if module.active_version is None:
                raise ModuleNotRunnable(
                    f"{module.name!r} has no active version: activate one, or name a version to try."
                )
            return module.active_version
        version = module.versions.filter(number=number).first()
        if version is None:
            raise serializers.ValidationError({"version": [f"{module.name!r} has no version {number}."]})
        return version


@extend_schema(tags=["wasmhooks versions"])
@extend_schema_view(
    list=extend_schema(
        summary="A module's versions, newest first",
        responses={200: WasmModuleVersionSerializer(many=True), **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One version of a module",
        parameters=[VERSION_NUMBER],
        responses={200: WasmModuleVersionSerializer, **READ_ERRORS},
    ),
)
class VersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, HooksViewSet):
    """The versions of one module. Versions are immutable: upload a new one to change a module.

    Reading needs `view_wasmmodule`; uploading and activating need `change_wasmmodule`.
    """

    queryset = WasmModuleVersion.objects.select_related("module", "uploaded_by")
    serializer_class = WasmModuleVersionSerializer
    lookup_field = "number"
    lookup_value_regex = VERSION_NUMBER_REGEX
    parser_classes = [MultiPartParser]
    permission_model = WasmModule
    action_permissions = {"create": "change", "activate": "change"}

    @cached_property
    def module(self) -> WasmModule:
        """The module named in the URL. Raises `Http404` if there is none."""
        return get_object_or_404(WasmModule, name=self.kwargs["module_name"])

    def get_queryset(self) -> QuerySet[WasmModuleVersion]:
        return super().get_queryset().filter(module=self.module)

    @extend_schema(
        summary="Upload a new version of a module",
        description="Identical bytes are not stored twice: the existing version comes back with 200.",
        request=WasmModuleVersionUploadSerializer,
        responses={
            201: WasmModuleVersionSerializer,
            200: WasmModuleVersionSerializer,
            **READ_ERRORS,
            **INPUT_ERROR,
            **TOO_LARGE,
        },
    )
    def create(self, request: Request, module_name: str) -> Response:
        """Store the uploaded file as the module's next version (by default, the one in force).

        Raises `ValidationError` (400) for a bad file, `ModuleTooLarge` (413), `Http404`.
        """
        module = self.module
        upload = WasmModuleVersionUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        try:
            result = uploads.store_upload(
                module.name, data["file"], user=request.user, activate=data["activate"]
            )
        except DjangoValidationError as exc:
            raise upload_error(exc) from None
        version = self.get_serializer(self.get_queryset().get(pk=result.version.pk)).data
        if not result.version_created:
            return Response(version)
        return Response(version, status=status.HTTP_201_CREATED, headers={"Location": version["url"]})

    @extend_schema(
        summary="Make this version the one that runs (activating an older one rolls back)",
        request=None,
        parameters=[VERSION_NUMBER],
        responses={200: WasmModuleSerializer, **READ_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, module_name: str, number: str) -> Response:
        """Activate the version; answer with its module."""
        uploads.activate(self.get_object())
        module = modules().get(pk=self.module.pk)
        return Response(WasmModuleSerializer(module, context=self.get_serializer_context()).data)


@extend_schema(tags=["wasmhooks bindings"])
@extend_schema_view(
    list=extend_schema(
        summary="The stored bindings, in the order they run",
        parameters=[OpenApiParameter("module", str, description="Only the bindings of the module so named.")],
        responses={200: HookBindingSerializer(many=True), **AUTH_ERRORS},
    ),
    create=extend_schema(
        summary="Bind a module to requests",
        responses={201: HookBindingSerializer, **AUTH_ERRORS, **INPUT_ERROR},
    ),
    retrieve=extend_schema(summary="One binding", responses={200: HookBindingSerializer, **READ_ERRORS}),
    update=extend_schema(
        summary="Replace a binding", responses={200: HookBindingSerializer, **READ_ERRORS, **INPUT_ERROR}
    ),
    partial_update=extend_schema(
        summary="Change a binding", responses={200: HookBindingSerializer, **READ_ERRORS, **INPUT_ERROR}
    ),
    destroy=extend_schema(summary="Delete a binding", responses={204: None, **READ_ERRORS}),
)
class BindingViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    HooksViewSet,
):
    """Stored bindings: which module runs on which requests, under what limits."""

    queryset = HookBinding.objects.select_related("module")
    serializer_class = HookBindingSerializer
    parser_classes = [JSONParser]

    def get_queryset(self) -> QuerySet[HookBinding]:
        """The bindings, only those of the module named by `?module=` if given."""
        queryset = super().get_queryset()
        module = self.request.query_params.get("module")
        if module is not None:
            queryset = queryset.filter(module__name=module)
        return queryset


class HooksEndpoints(EndpointEnumerator):
    """The endpoints of wasmhooks' API only, wherever the project mounts it."""

    def should_include_endpoint(self, path: str, callback: Any) -> bool:
        view = getattr(callback, "cls", None)
        is_ours = isinstance(view, type) and issubclass(view, HooksViewSet)
        return is_ours and bool(super().should_include_endpoint(path, callback))


class HooksSchemaGenerator(SchemaGenerator):
    """An OpenAPI 3 schema of wasmhooks' API alone, titled and versioned as wasmhooks."""

    endpoint_inspector_cls = HooksEndpoints

    def get_schema(self, request: Any = None, public: bool = False) -> dict[str, Any]:
        schema: dict[str, Any] = super().get_schema(request, public)  # type: ignore[no-untyped-call]
        schema["info"] = {
            "title": "wasmhooks API",
            "version": wasmhooks.__version__,
            "description": "Upload WebAssembly hook modules, bind them to requests, and try them.",
        }
        return schema


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema of this API, as YAML or JSON (`?format=json`)."""

    generator_class = HooksSchemaGenerator
