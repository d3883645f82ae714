"""Checking incoming resources: basic shape always, the R4 models when validation is on.

The models are fhir.resources' R4B package (R4 JSON does not parse with its default R5
models; R4B differs from R4 only in resources this server does not use).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import ValidationError

from fhir_fixtures.server.errors import InvalidRequest, UnprocessableResource

__all__ = ["ID_RE", "check_id", "check_shape", "validate_model"]

ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_MAX_REPORTED_ERRORS = 5


def check_id(resource_id: str) -> str:
    r"""Return ``resource_id`` if it is a valid FHIR id.

    Raises:
        InvalidRequest: it is not ``[A-Za-z0-9\\-.]{1,64}``.
    """
    if not ID_RE.match(resource_id):
        raise InvalidRequest(f"invalid resource id {resource_id!r}")
    return resource_id


def check_shape(resource: Any, resource_type: str) -> dict[str, Any]:
    """The resource as a dict, checked to be a JSON object of the expected type.

    Raises:
        InvalidRequest: not an object, or a ``resourceType`` other than ``resource_type``.
    """
    if not isinstance(resource, dict):
        raise InvalidRequest("the body must be a JSON object (a FHIR resource)")
    actual = resource.get("resourceType")
    if actual != resource_type:
        raise InvalidRequest(
            f"resourceType {actual!r} does not match the {resource_type} endpoint",
            expression="resourceType",
        )
    resource_id = resource.get("id")
    if resource_id is not None and (
        not isinstance(resource_id, str) or not ID_RE.match(resource_id)
    ):
        raise InvalidRequest(f"invalid resource id {resource_id!r}", expression="id")
    return resource


@cache
def _model(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


def validate_model(resource: dict[str, Any]) -> None:
    """Validate a resource against its R4 (R4B) model.

    Raises:
        UnprocessableResource: the resource does not conform; the message names the elements.
    """
    resource_type = resource["resourceType"]
    try:
        model = _model(resource_type)
    except (KeyError, ValueError):
        raise UnprocessableResource(f"unknown resource type {resource_type!r}") from None
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:_MAX_REPORTED_ERRORS]:
            location = ".".join(str(part) for part in error["loc"]) or resource_type
            problems.append(f"{location}: {error['msg']}")
        more = exc.error_count() - len(problems)
        suffix = f" (and {more} more)" if more > 0 else ""
        first_location = exc.errors()[0]["loc"] if exc.error_count() else ()
        raise UnprocessableResource(
            f"{resource_type} is not valid FHIR R4: " + "; ".join(problems) + suffix,
            expression=".".join(str(part) for part in first_location),
        ) from None
