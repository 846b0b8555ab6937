"""Strict DRF fields and the translation of serializer errors into our error hierarchy.

Partners send JSON; a field declared a string must be a JSON string and an integer a JSON integer
(no coercion of 38.0, "38" or true). The first failing field, in declaration order, becomes one
ChargepayError: missing/null → MandatoryParameterNotSet(name), too long → ParameterMaxLength(name, max),
anything else → InvalidParameter(value as sent, name). Nested names are dotted.
"""

from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers
from rest_framework.settings import api_settings

from core import errors

_MISSING = object()


class StrictCharField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDictSerializerMixin:
    """Refuses keys the serializer does not declare (reported as InvalidParameter on that key)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = [key for key in data if key not in self.fields]
            if unknown:
                raise serializers.ValidationError({unknown[0]: [serializers.ErrorDetail("unknown key", code="unknown")]})
        return super().to_internal_value(data)


def _raw_value(data, path: list[str]):
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def _first_error(detail, path: list[str]):
    """Depth-first, in declaration order: (path, [ErrorDetail, ...]) of the first failing field."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            found_path, found = _first_error(value, [*path, key])
            # An object-level error names its object, unless it is an unknown key of that (odd) name.
            if key == api_settings.NON_FIELD_ERRORS_KEY and found_path == [*path, key] and not _codes(found) & {"unknown"}:
                found_path = path
            return found_path, found
    if isinstance(detail, list) and detail and isinstance(detail[0], dict | list):
        return _first_error(detail[0], path)
    return path, detail


def _codes(details) -> set[str]:
    return {getattr(detail, "code", None) for detail in details}


def validation_error_to_chargepay(serializer: serializers.Serializer, data) -> errors.ChargepayError:
    path, details = _first_error(serializer.errors, [])
    name = ".".join(path)
    codes = _codes(details)
    value = _raw_value(data, path)
    if "unknown" in codes:
        return errors.InvalidParameter(value, name)
    if value is _MISSING or value is None or "required" in codes or "null" in codes:
        return errors.MandatoryParameterNotSet(name)
    if "max_length" in codes:
        field = serializer
        for part in path:
            field = field.fields[part]
        return errors.ParameterMaxLength(name, field.max_length)
    return errors.InvalidParameter(value, name)


def validated(serializer_class: type[serializers.Serializer], request, **kwargs):
    """Validate the request's JSON body with `serializer_class`, or raise the first error."""
    data = request.data
    if request.stream is None:  # no body at all
        raise errors.InvalidFormat("request body is not valid JSON")
    if not isinstance(data, dict):
        raise errors.InvalidFormat("request body must be a JSON object")
    serializer = serializer_class(data=data, **kwargs)
    if not serializer.is_valid():
        raise validation_error_to_chargepay(serializer, data)
    return serializer.validated_data


class StrictDictSchema(OpenApiSerializerExtension):
    """In the OpenAPI schema, a StrictDictSerializerMixin object allows no other properties, as the server refuses them."""

    target_class = StrictDictSerializerMixin
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "additionalProperties": False}
