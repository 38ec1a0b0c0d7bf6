"""The policy JSON Schema, and its errors turned into located, readable problems.

jsonschema reports paths like `steps/2/after/days`; we map them back to the YAML
line and column through the loader's marks, and rephrase the common validators
in words a finance admin can act on.
"""
from __future__ import annotations

import difflib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from .errors import Problem
from .load import Document
from .resources import resource_path


@lru_cache(maxsize=None)
def load_schema(name: str = "policy.schema.json") -> dict[str, Any]:
    return json.loads(resource_path("schemas", name).read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name))


def schema_problems(document: Document, schema_name: str = "policy.schema.json") -> list[Problem]:
    """Every schema violation of one document, located and explained."""
    errors = _validator(schema_name).iter_errors(document.data)
    return [_to_problem(document, _clearest(error)) for error in _leaves(errors)]


def _leaves(errors: Iterable[ValidationError]) -> Iterable[ValidationError]:
    seen: set[tuple[Any, ...]] = set()
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        key = (tuple(error.absolute_path), error.validator, error.message)
        if key not in seen:
            seen.add(key)
            yield error


def _clearest(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf, the sub-error that explains most (jsonschema's best_match)."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        return best_match(error.context) or error
    return error


def _to_problem(document: Document, error: ValidationError) -> Problem:
    path = tuple(error.absolute_path)
    message, hint, unknown_key = _explain(error)
    where = ".".join(str(p) for p in path) or "(top level)"
    if unknown_key is not None:
        return document.problem((*path, unknown_key), f"{where}: {message}", hint, "schema/additionalProperties",
                                key=True)
    return document.problem(path, f"{where}: {message}", hint, f"schema/{error.validator}")


def _explain(error: ValidationError) -> tuple[str, str, str | None]:
    """Message, hint, and the offending key when the error is about an unknown key."""
    validator, schema = error.validator, error.schema
    if validator == "required":
        return error.message.replace("is a required property", "is required"), _allowed(schema), None
    if validator == "additionalProperties":
        return _unknown_keys(error)
    if validator in ("enum", "const"):
        allowed = schema.get("enum") or [schema.get("const")]
        close = difflib.get_close_matches(str(error.instance), [str(a) for a in allowed], n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"use one of: {', '.join(map(str, allowed))}"
        return f"'{error.instance}' is not allowed here", hint, None
    if validator == "type":
        return f"expected {schema['type']}, got {type(error.instance).__name__} {error.instance!r}", \
            schema.get("description", ""), None
    if validator == "pattern":
        return f"'{error.instance}' has the wrong form", schema.get("description", f"it must match {schema['pattern']}"), None
    return error.message, schema.get("description", ""), None


def _unknown_keys(error: ValidationError) -> tuple[str, str, str | None]:
    known = list(error.schema.get("properties", {}))
    unknown = [k for k in error.instance if k not in known]
    suggestions = [difflib.get_close_matches(str(k), known, n=1) for k in unknown]
    hints = [f"'{k}' → did you mean '{s[0]}'?" for k, s in zip(unknown, suggestions) if s]
    hint = "; ".join(hints) if hints else f"allowed keys: {', '.join(known)}"
    return f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(k) for k in unknown)}", hint, unknown[0]


def _allowed(schema: dict[str, Any]) -> str:
    keys = list(schema.get("properties", {}))
    return f"keys here: {', '.join(keys)}" if keys else ""


def schema_file() -> Path:
    return resource_path("schemas", "policy.schema.json")
