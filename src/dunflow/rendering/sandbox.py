"""Jinja2's sandbox with bounded resources: templates are untrusted text, and so is their cost.

`SandboxedEnvironment` stops a template from reaching Python internals, but not from asking for
`9**(9**9)`, `'a' * 10**9` or three nested `range(100000)` loops: each hangs or exhausts memory
before any output appears. `BoundedEnvironment` refuses such requests *before* the work is done:

- arithmetic: `**`, `*`, `<<`-sized results are estimated from the operands' sizes and refused over
  `MAX_INT_BITS`; repetition (`'a' * n`, `[x] * n`), `+`, `~` and `%` are refused when their result
  would exceed `MAX_TEXT`;
- calls and filters: an integer argument over `MAX_TEXT` (`center(10**9)`, `indent(…)`), a format
  width over `MAX_TEXT` and a `replace` that would grow past `MAX_TEXT` are refused;
- `range` holds at most `MAX_RANGE` items, every loop step and call counts against `MAX_STEPS`, and
  the render stops after `MAX_SECONDS` of wall time;
- the caller (`TemplateStore`) joins the output chunk by chunk and stops at `MAX_TEXT` characters.

A breach raises `TemplateLimit`, a `TemplateError`, so it is reported like any template error: with
the template's file and line. The limits are listed in the README ("Limits").
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
import time
from functools import wraps
from typing import Any, Iterable, Iterator

from jinja2 import TemplateError, nodes
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

MAX_TEXT = 100_000  # characters of any string a template builds, and of each rendered block
MAX_INT_BITS = 256  # about 77 decimal digits: any amount, count or date arithmetic fits
MAX_RANGE = 1_000
MAX_STEPS = 100_000  # loop iterations plus calls, per render
MAX_SECONDS = 2.0
WIDTH = re.compile(r"[%:{][^%{}a-zA-Z]*?(\d{6,})")  # `%1000000s`, `{:>1000000}`: a width of 6+ digits

MAX_CACHED_CHECKS = 10_000  # (type, attribute) answers of the sandbox kept per environment
GUARD_FILTER = "dunflow_loop_budget"
CONCAT_FILTER = "dunflow_concat"
_DICT_ATTRIBUTES = frozenset(dir(dict))  # what `getattr` finds on a plain dict: its methods, nothing else


class TemplateLimit(TemplateError):
    """A template asked for more than a notice could ever need."""


class _Budget(threading.local):
    steps = 0
    deadline = float("inf")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


def _text_limit(size: int, what: str) -> None:
    if size > MAX_TEXT:
        raise TemplateLimit(f"{what} would be {size:,} long; the limit is {MAX_TEXT:,}")


def _int_bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) and not isinstance(value, bool) else 0


class _GeneratedCode:
    """Jinja2's generated Python for a template source, kept for the life of the process.

    Compiling a template (parse, guard, generate Python) costs about a hundred renders; every command loads the
    project's templates, and a process that loads them more than once (a worker, `simulate`, the test suite
    running commands in-process) should pay once. Only the generated *text* is shared, keyed by the template's
    name, source and the environment's syntax; it is compiled to a code object per file, so errors still point to
    the right file and line. Nothing is written to disk."""

    LIMIT = 4096  # distinct template sources; far more than any project has

    def __init__(self) -> None:
        self._text: dict[tuple[str, ...], str] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> str | None:
        with self._lock:
            return self._text.get(key)

    def put(self, key: tuple[str, ...], text: str) -> None:
        with self._lock:
            if len(self._text) >= self.LIMIT:
                self._text.clear()
            self._text[key] = text


GENERATED = _GeneratedCode()


class BoundedEnvironment(SandboxedEnvironment):
    """The sandbox, plus a budget per render (`start_render`) and checks on every costly operation."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.budget = _Budget()
        self._safe_attributes: dict[tuple[type, str], bool] = {}
        self._plain_fields: dict[type, frozenset[str]] = {}
        self.globals["range"] = self.bounded_range
        self.filters[GUARD_FILTER] = self.guarded
        self.filters[CONCAT_FILTER] = self.joined

    def register_plain(self, kind: type) -> None:
        """A frozen dataclass of plain data (the notice's debtor, invoices, money): its fields are read without
        the sandbox's checks, which would allow them anyway (no underscore, no internal attribute, no
        `str.format`); anything else about it still goes through the checks."""
        self._plain_fields[kind] = frozenset(f.name for f in dataclasses.fields(kind) if not f.name.startswith("_"))

    def getattr(self, obj: Any, attribute: str) -> Any:
        """As the sandbox's, with two short cuts that give the same answers: a plain field of a registered type,
        and a key of a plain dict (`step.id`, `paragraph.lines`), which the sandbox would find only after
        `getattr` failed with an exception, since a dict has no attributes besides its methods."""
        kind = type(obj)
        if kind is dict and attribute not in _DICT_ATTRIBUTES:
            return obj[attribute] if attribute in obj else self.undefined(obj=obj, name=attribute)
        fields = self._plain_fields.get(kind)
        if fields is not None and attribute in fields:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """The sandbox's own check, asked once per (type, attribute): its answer depends on nothing else
        (a leading underscore, or an internal attribute of a function, method, type, frame, code or
        generator object: all decided by the object's type and the name)."""
        key = (type(obj), attr)
        safe = self._safe_attributes.get(key)
        if safe is None:
            safe = super().is_safe_attribute(obj, attr, value)
            if len(self._safe_attributes) < MAX_CACHED_CHECKS:
                self._safe_attributes[key] = safe
        return safe

    def start_render(self) -> None:
        """A fresh budget for one template's render (per thread: parallel renders do not share one)."""
        self.budget.steps = 0
        self.budget.deadline = time.monotonic() + MAX_SECONDS

    def step(self) -> None:
        budget = self.budget
        budget.steps += 1
        if budget.steps > MAX_STEPS:
            raise TemplateLimit(f"the template takes more than {MAX_STEPS:,} loop steps and calls")
        if budget.steps % 64 == 0 and time.monotonic() > budget.deadline:
            raise TemplateLimit(f"the template takes longer than {MAX_SECONDS:g} s to render")

    def bounded_range(self, *args: int) -> range:
        items = range(*args)
        if len(items) > MAX_RANGE:
            raise TemplateLimit(f"range of {len(items):,} items; the limit is {MAX_RANGE:,}")
        return items

    def guarded(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Every `{% for %}` iterates through this (see `_parse`): each step is counted."""
        for item in iterable:
            self.step()
            yield item

    def joined(self, parts: list[Any]) -> str:
        """`a ~ b ~ c`: the joined text, refused before it is built when it would be too long."""
        texts = [str(part) for part in parts]
        _text_limit(sum(map(len, texts)), "a joined text (~)")
        return "".join(texts)

    def compile(self, source: Any, name: str | None = None, filename: str | None = None, raw: bool = False,
                defer_init: bool = False) -> Any:
        """As Jinja2's, with the generated Python reused across environments of this process (`GENERATED`)."""
        if raw:
            return super().compile(source, name, filename, True, defer_init)
        if not isinstance(source, str):
            return super().compile(source, name, filename, False, defer_init)
        key = (self._syntax_key(), name or "", str(defer_init), hashlib.sha256(source.encode()).hexdigest())
        text = GENERATED.get(key)
        if text is None:
            text = super().compile(source, name, filename, raw=True, defer_init=defer_init)
            GENERATED.put(key, text)
        return self._compile(text, filename or "<template>")

    def _syntax_key(self) -> str:
        """What the generated code depends on besides the source: the class, the lexer's options and the names
        of filters and tests (an unknown filter is a compile-time error)."""
        options = (type(self).__qualname__, self.block_start_string, self.variable_start_string,
                   self.comment_start_string, self.line_statement_prefix, self.trim_blocks, self.lstrip_blocks,
                   self.keep_trailing_newline, self.newline_sequence, repr(self.autoescape),
                   ",".join(sorted(self.filters)), ",".join(sorted(self.tests)))
        return repr(options)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """The parsed template with every loop's iterable counted and every `~` checked."""
        tree = _Guards().visit(super()._parse(source, name, filename))
        assert isinstance(tree, nodes.Template)
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        self.step()
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_product(left, right)
        elif operator == "+":
            _text_limit(_size(left) + _size(right), "a sum of texts or lists (+)")
        elif operator == "%" and isinstance(left, str):
            _check_format(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        __self.step()
        values = (*args, *kwargs.values())
        for value in values:
            if _int_bits(value) and abs(value) > MAX_TEXT:
                raise TemplateLimit(f"an argument of {value:,} is over the limit of {MAX_TEXT:,}")
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format in its own formatter
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str):
            if getattr(method, "__name__", "") == "replace" and len(args) >= 2:
                _check_replace(owner, args[0], args[1])
            if getattr(method, "__name__", "") in ("format", "format_map"):
                _check_format(owner, values)
        return super().call(__context, __obj, *args, **kwargs)


class _Guards(NodeTransformer):
    """`{% for x in xs %}` → `{% for x in xs|dunflow_loop_budget %}`; `a ~ b` → `[a, b]|dunflow_concat`."""

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 - the visitor's naming
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, GUARD_FILTER, [], [], None, None, lineno=node.iter.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        return nodes.Filter(nodes.List(node.nodes, lineno=node.lineno), CONCAT_FILTER, [], [], None, None,
                            lineno=node.lineno)


def wrap_filters(env: BoundedEnvironment) -> None:
    """Every filter's arguments are checked like a call's (`'x'|center(10**9)`, `'%9999999s'|format(1)`)."""
    for name, function in list(env.filters.items()):
        if name not in (GUARD_FILTER, CONCAT_FILTER):
            env.filters[name] = _checked_filter(env, name, function)


def _checked_filter(env: BoundedEnvironment, name: str, function: Any) -> Any:
    def _check_ints(values: Iterable[Any]) -> None:
        for value in values:
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_TEXT:
                raise TemplateLimit(f"filter '{name}': an argument of {value:,} is over the limit of {MAX_TEXT:,}")

    extra = {"format": _format_arguments, "replace": _replace_arguments}.get(name)

    @wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        env.step()
        _check_ints(args)
        if kwargs:
            _check_ints(kwargs.values())
        if extra is not None:
            extra(args)
        return function(*args, **kwargs)

    return checked


def _format_arguments(args: tuple[Any, ...]) -> None:
    """`format` filter: the format string is its first text argument."""
    texts = [a for a in args if isinstance(a, str)]
    if texts:
        _check_format(texts[0], args)


def _replace_arguments(args: tuple[Any, ...]) -> None:
    """`replace` filter: the text, old and new are its last three text arguments."""
    texts = [a for a in args if isinstance(a, str)]
    if len(texts) >= 3:
        _check_replace(texts[-3], texts[-2], texts[-1])


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(exponent, int) and _int_bits(base) and exponent > 0:
        if exponent > MAX_INT_BITS or _int_bits(base) * exponent > MAX_INT_BITS + 64:
            raise TemplateLimit(f"a power with more than {MAX_INT_BITS} bits")
    elif isinstance(exponent, (int, float)) and abs(exponent) > MAX_INT_BITS:
        raise TemplateLimit(f"an exponent of {exponent} is over the limit of {MAX_INT_BITS}")


def _check_product(left: Any, right: Any) -> None:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(count, int):
            _text_limit(len(seq) * max(count, 0), "a repeated text or list (*)")
    if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
        raise TemplateLimit(f"a product with more than {MAX_INT_BITS} bits")


def _check_format(text: str, values: Any) -> None:
    for width in WIDTH.findall(text):
        _text_limit(int(width), "a formatted field")
    items = values if isinstance(values, (tuple, list)) else (values,)
    if sum(_size(v) for v in items) + len(text) > MAX_TEXT:
        _text_limit(sum(_size(v) for v in items) + len(text), "a formatted text")


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        hits = text.count(old) if old else len(text) + 1
        _text_limit(len(text) + hits * len(new), "a replaced text")
