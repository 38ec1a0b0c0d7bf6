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

from dunflow.errors import Problem
from dunflow.policy.load import Document
from dunflow.resources import resource_path


@lru_cache(maxsize=None)
def load_schema(name: str = "policy.schema.json") -> dict[str, Any]:
    return json.loads(resource_path("schemas", name).read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name))


MAX_STRING = 10_000  # any text value; the schema sets tighter maxima on the known ones
MAX_ITEMS = 1_000  # any list or mapping; the schema sets tighter maxima (50 steps, 5 channels…)


def schema_problems(document: Document, schema_name: str = "policy.schema.json") -> list[Problem]:
    """Every schema violation of one document, located and explained.

    Oversized lists and texts are reported first and alone: validating 10,000 steps one by one takes
    longer than anyone waits, and their problems would drown the one that matters (too many)."""
    oversized = _oversized(document, load_schema(schema_name))
    if oversized:
        return oversized
    errors = [_clearest(e) for e in _leaves(_validator(schema_name).iter_errors(document.data))]
    return [_to_problem(document, e) for e in errors if not _explained_by_typo(e, errors)]


def _oversized(document: Document, schema: dict[str, Any]) -> list[Problem]:
    """Lists, mappings and texts over the limits, found in one walk (a top-level list uses its schema maximum)."""
    problems: list[Problem] = []
    pending: list[tuple[tuple[Any, ...], Any]] = [((), document.data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and len(value) > MAX_STRING:
            problems.append(document.problem(path, f"{_where(path)}: text of {len(value):,} characters; at most "
                                             f"{MAX_STRING:,}", "shorten it", "schema/maxLength"))
        elif isinstance(value, (list, dict)):
            top = schema.get("properties", {}).get(path[0], {}) if len(path) == 1 else {}
            limit = top.get("maxItems", MAX_ITEMS) if isinstance(top, dict) else MAX_ITEMS
            if len(value) > limit:
                problems.append(document.problem(path, f"{_where(path)}: {len(value):,} entries; at most {limit:,}",
                                                 "a policy needs far fewer: split it or remove entries",
                                                 "schema/maxItems"))
                continue
            children = value.items() if isinstance(value, dict) else enumerate(value)
            pending += [((*path, key), child) for key, child in children]
    return sorted(problems)


def _where(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _explained_by_typo(error: ValidationError, errors: list[ValidationError]) -> bool:
    """'channels is required' next to an unknown key 'chanels': the did-you-mean says it all."""
    if error.validator != "required" or "'" not in error.message:
        return False
    missing = error.message.split("'")[1]
    for other in errors:
        if other.validator == "additionalProperties" and other.absolute_path == error.absolute_path:
            unknown = [k for k in other.instance if k not in other.schema.get("properties", {})]
            if difflib.get_close_matches(missing, [str(k) for k in unknown], n=1):
                return True
    return False


def _leaves(errors: Iterable[ValidationError]) -> Iterable[ValidationError]:
    seen: set[tuple[Any, ...]] = set()
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        key = (tuple(error.absolute_path), error.validator, error.message)
        if key not in seen:
            seen.add(key)
            yield error


def _clearest(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf, the sub-error that explains most (jsonschema's best_match)."""
    if error.validator in ("oneOf", "anyOf") and error.context and not _one_of_keys(error):
        return best_match(error.context) or error
    return error


def _one_of_keys(error: ValidationError) -> list[str]:
    """The keys of an `anyOf` of `required`s (a delay needs days or months); empty for any other error."""
    if error.validator != "anyOf" or not all(e.validator == "required" for e in error.context or ()):
        return []
    return [str(key) for e in error.context or () for key in e.validator_value]


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
        key = error.message.split("'")[1] if "'" in error.message else ""
        return error.message.replace("is a required property", "is required"), \
            f"add `{key}:` here (see `dunflow schema`, or a shipped policy in policies/)", None
    if validator == "additionalProperties":
        return _unknown_keys(error)
    if _one_of_keys(error):
        keys = _one_of_keys(error)
        return f"needs {' or '.join(repr(k) for k in keys)}", \
            f"add one of them here, e.g. `{keys[0]}: 1`", None
    if validator in ("enum", "const"):
        allowed = schema.get("enum") or [schema.get("const")]
        close = difflib.get_close_matches(str(error.instance), [str(a) for a in allowed], n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"use one of: {', '.join(map(str, allowed))}"
        return f"'{error.instance}' is not allowed here", hint, None
    if validator == "type":
        wanted = _TYPE_WORDS.get(str(schema["type"]), str(schema["type"]))
        return f"expected {wanted}, got {_describe_value(error.instance)}", _TYPE_HINTS.get(str(schema["type"]), ""), \
            None
    if validator == "pattern":
        return f"'{error.instance}' has the wrong form", schema.get("description", f"it must match {schema['pattern']}"), None
    return error.message, schema.get("description", ""), None


_TYPE_WORDS = {"integer": "a whole number", "number": "a number", "string": "text", "boolean": "true or false",
               "array": "a list", "object": "a mapping of keys"}
_TYPE_HINTS = {"integer": "write a whole number without quotes, e.g. 7", "number": "write a number, e.g. 5.00",
               "boolean": "write true or false", "array": "write a list, e.g. [email, letter]",
               "object": "write indented `key: value` lines", "string": "write text (quote it if it looks like a number)"}


def _describe_value(value: Any) -> str:
    if isinstance(value, str):
        return f"the text '{value}'"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "a mapping"
    return repr(value)


def _unknown_keys(error: ValidationError) -> tuple[str, str, str | None]:
    known = list(error.schema.get("properties", {}))
    unknown = [k for k in error.instance if k not in known]
    suggestions = [difflib.get_close_matches(str(k), known, n=1) for k in unknown]
    hints = [f"'{k}' → did you mean '{s[0]}'?" for k, s in zip(unknown, suggestions) if s]
    hint = "; ".join(hints) if hints else f"allowed keys: {', '.join(known)}"
    return f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(k) for k in unknown)}", hint, unknown[0]


def schema_file() -> Path:
    return resource_path("schemas", "policy.schema.json")
