"""Policy YAML → plain data, plus a map from every data path to its line and column.

We compose the YAML node tree with PyYAML's SafeLoader (the `safe_load` rules:
no Python objects) and build the data ourselves, so that we can
- remember where every key and value sits, to turn JSON Schema error paths into
  `file:line:col` (the way pre-commit's yaml_rewrite walks nodes);
- report duplicate keys, which PyYAML silently keeps the last of;
- read numbers with a fraction as `Decimal` straight from their text, so money
  in a policy never passes through a float.

Anchors, aliases and merge keys (`<<: *notice`) are read as `yaml.safe_load` reads them,
following the merge-key spec (https://yaml.org/type/merge.html): a mapping's own keys win
over merged ones, and in `<<: [*a, *b]` the first mapping wins. (PyYAML 6.0.4 lets the
last one win for keys longer than one character, yaml/pyyaml#953; we keep to the spec.)
A merged key or value is located where it is written, in the anchored mapping: that is
the text to fix.

Policy files and `dunflow.yaml` are untrusted text, so reading them is bounded (README, "Limits"):
the text's size, the nesting depth and the number of aliases are checked on the parser's event
stream (iterative, so deep nesting cannot exhaust the stack), and the data an alias expands into
counts against a budget of nodes while the tree is built: a 948-byte "billion laughs" file is
refused after `MAX_NODES` nodes, not after gigabytes. A node that contains its own alias is refused.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import yaml

from dunflow.errors import Problem

PathKey = tuple[Any, ...]
MERGE_TAG = "tag:yaml.org,2002:merge"
MERGE = object()  # the `<<` key while a mapping is read: never a key of the data

MAX_TEXT_BYTES = 256_000  # a policy of 50 steps is ~20 kB
# libyaml's C parser when PyYAML has it (15x faster on big files); the same safe rules either way.
FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 32  # nested mappings/lists; the schema's deepest policy path is 8
MAX_ALIASES = 1_000  # alias uses (`*name`) in one file
MAX_NODES = 100_000  # keys, values and list items after aliases and merge keys are expanded


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based


@dataclass
class Document:
    """A loaded YAML file: its data, where each path is, and the raw text (for hashing)."""

    file: str
    text: str
    data: Any
    value_marks: dict[PathKey, Mark] = field(default_factory=dict)
    key_marks: dict[PathKey, Mark] = field(default_factory=dict)

    def mark(self, path: PathKey, *, key: bool = False) -> Mark:
        """The closest known position for `path`, walking up to a parent if needed."""
        marks = self.key_marks if key else self.value_marks
        probe = tuple(path)
        while probe:
            if probe in marks:
                return marks[probe]
            if not key and probe in self.key_marks:
                return self.key_marks[probe]
            probe = probe[:-1]
        return self.value_marks.get((), Mark(1, 1))

    def problem(self, path: PathKey, message: str, hint: str = "", rule: str = "", *, key: bool = False,
                level: str = "error") -> Problem:
        where = self.mark(path, key=key)
        return Problem(self.file, where.line, where.col, message, hint, rule, level)


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _shown(key: Any) -> str:
    return "<<" if key is MERGE else str(key)


class TooBig(Exception):
    """The text is over one of the limits above; carries the located problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _limit(name: str, node_or_mark: Any, message: str, hint: str, rule: str) -> TooBig:
    """A node or a parser event's mark (PyYAML's or libyaml's: both have line and column)."""
    mark = node_or_mark.start_mark if isinstance(node_or_mark, yaml.Node) else node_or_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    return TooBig(Problem(name, line, col, message, hint, rule))


def _too_deep(name: str, mark: Any) -> Problem:
    return _limit(name, mark, f"nesting deeper than {MAX_DEPTH} levels",
                  "a policy is a shallow tree: flatten the mappings and lists", "yaml-too-deep").problem


def _check_events(text: str, name: str) -> None:
    """Depth and alias count, read from the event stream before any tree is composed."""
    depth = aliases = 0
    for event in yaml.parse(text, Loader=FAST_LOADER):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise TooBig(_too_deep(name, event.start_mark))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _limit(name, event.start_mark, f"more than {MAX_ALIASES} aliases",
                             "repeat fewer values through anchors", "yaml-too-many-aliases")


class _Builder:
    """Turns a composed node tree into data, recording marks and duplicate keys, within the node budget."""

    def __init__(self, document: Document, problems: list[Problem]) -> None:
        self.document = document
        self.problems = problems
        self.constructor = yaml.SafeLoader("")
        self.nodes = 0
        self.open: set[int] = set()  # the nodes being built: meeting one again is a recursive alias

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self._count(node)
        self.document.value_marks[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            self._plain(node, "tag:yaml.org,2002:map")
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            self._plain(node, "tag:yaml.org,2002:seq")
            with self._inside(node):
                return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        return self._scalar(node)

    def _plain(self, node: yaml.Node, tag: str) -> None:
        """A mapping or list carries no tag of its own: `!!python/object/apply:` on a list is refused like on a scalar."""
        if node.tag != tag:
            raise _limit(self.document.file, node, f"YAML tag '{node.tag}' is not allowed",
                         "policies are plain data: remove the tag (only strings, numbers, booleans, dates, "
                         "lists and mappings)", "yaml-tag")

    def _count(self, node: yaml.Node) -> None:
        """Every node built or merged counts, so an alias (or merge) of an alias of … cannot multiply unseen."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _limit(self.document.file, node, f"the aliases expand to more than {MAX_NODES:,} values",
                         "an alias repeats its anchor's whole value: anchors nested in anchors multiply; "
                         "write the values out", "yaml-alias-expansion")

    @contextmanager
    def _inside(self, node: yaml.Node) -> Iterator[None]:
        """While a mapping or list is built, meeting it again means an alias inside its own anchor."""
        if id(node) in self.open:
            raise _limit(self.document.file, node, "an alias refers to a mapping or list that contains it",
                         "a policy is a tree: repeat the values instead of nesting an anchor in itself",
                         "yaml-recursive")
        self.open.add(id(node))
        try:
            yield
        finally:
            self.open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: PathKey, taken: frozenset[Any] = frozenset()) -> dict[Any, Any]:
        """The mapping's keys not in `taken`: its own first (they win), then what its merge key brings.

        Keys that win are built first, so a merged key that loses is never built and leaves no mark.
        """
        with self._inside(node):
            own = self._own_keys(node, path, taken)
            merged: dict[Any, Any] = {}
            for source in self._merge_sources(node):
                self._count(source)
                merged.update(self._mapping(source, path, taken | own.keys() | merged.keys()))
        return {**merged, **own}

    def _own_keys(self, node: yaml.MappingNode, path: PathKey, taken: frozenset[Any]) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        marks: dict[Any, Mark] = {}
        for key_node, value_node in node.value:
            key = MERGE if key_node.tag == MERGE_TAG else self._key(key_node)
            if key in marks:
                self._report(key_node, f"duplicate key '{_shown(key)}' (first defined on line {marks[key].line})",
                             "remove one of them: YAML would silently keep only the last", "duplicate-key")
                continue
            marks[key] = _mark(key_node)
            if key is MERGE or key in taken:
                continue
            self.document.key_marks[(*path, key)] = marks[key]
            result[key] = self.build(value_node, (*path, key))
        return result

    def _merge_sources(self, node: yaml.MappingNode) -> list[yaml.MappingNode]:
        """The mappings `<<` merges in, the one that wins first; anything else is reported at the `<<`."""
        merges = [(key, value) for key, value in node.value if key.tag == MERGE_TAG][:1]
        if not merges:
            return []
        key, value = merges[0]
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        if all(isinstance(source, yaml.MappingNode) for source in sources):
            return sources
        self._report(key, "a merge key '<<' takes a mapping or a list of mappings, e.g. `<<: *notice`",
                     "anchor a mapping (`- &notice {...}`) and merge its alias: `<<: *notice`", "yaml-merge")
        return []

    def _key(self, node: yaml.Node) -> Any:
        return self._scalar(node) if isinstance(node, yaml.ScalarNode) else str(node.value)

    def _report(self, node: yaml.Node, message: str, hint: str, rule: str) -> None:
        """Record a problem once, however often an alias repeats the node it is about."""
        here = _mark(node)
        problem = Problem(self.document.file, here.line, here.col, message, hint, rule)
        if problem not in self.problems:
            self.problems.append(problem)

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag == "tag:yaml.org,2002:float":
            text = node.value.replace("_", "")
            try:
                return Decimal(text)
            except ArithmeticError:
                pass
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:  # `!!python/name:…` and other tags safe_load refuses
            raise _limit(self.document.file, node, f"YAML tag '{node.tag}' is not allowed",
                         "policies are plain data: remove the tag (only strings, numbers, booleans, dates, "
                         "lists and mappings)", "yaml-tag") from exc


def load_yaml(path: Path, display: str | None = None) -> tuple[Document | None, list[Problem]]:
    """Read one YAML file; on a syntax error return None and the located problem."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(name, 0, 0, f"cannot read file: {exc}", "check the path and that it is UTF-8 text",
                              "unreadable")]
    return load_yaml_text(text, name)


def load_yaml_text(text: str, name: str) -> tuple[Document | None, list[Problem]]:
    problems: list[Problem] = []
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        return None, [Problem(name, 1, 1, f"file is larger than {MAX_TEXT_BYTES:,} bytes",
                              "split the policy or remove what it does not need", "yaml-too-large")]
    try:
        _check_events(text, name)
        node = yaml.compose(text, Loader=FAST_LOADER)
    except TooBig as big:
        return None, [big.problem]
    except yaml.MarkedYAMLError as exc:
        if exc.problem == "exceeded maximum nesting depth":  # libyaml's own bound, met before our event check
            return None, [_too_deep(name, exc.problem_mark)]
        return _syntax_error(text, name)
    except yaml.YAMLError:
        return _syntax_error(text, name)
    document = Document(name, text, None)
    if node is None:
        return None, [Problem(name, 1, 1, "file is empty", "start from a shipped example in policies/", "empty")]
    try:
        document.data = _Builder(document, problems).build(node, ())
    except TooBig as big:
        return None, [big.problem]
    return document, problems


def _syntax_error(text: str, name: str) -> tuple[None, list[Problem]]:
    """The located syntax error, in the words of PyYAML's own parser (clearer than libyaml's)."""
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(text, name, exc)]
    except yaml.YAMLError as exc:
        return None, [Problem(name, 0, 0, f"YAML error: {exc}", "", "yaml-syntax")]
    except RecursionError:  # PyYAML's pure-Python composer recurses once per level
        return None, [_too_deep(name, None)]
    return None, [Problem(name, 0, 0, "YAML error", "", "yaml-syntax")]


def _syntax_problem(text: str, name: str, exc: yaml.MarkedYAMLError) -> Problem:
    """Locate a syntax error; a missing ':' is reported on the line that lacks it, not the next one."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    hint = "check indentation (spaces only, no tabs) and that every ':' is followed by a space"
    if exc.problem in ("mapping values are not allowed here", "could not find expected ':'") and line > 1:
        culprit = _line_missing_colon(text.splitlines(), line - 1)
        if culprit is not None:
            number, content = culprit
            key = content.strip().split()[0] if content.strip() else ""
            return Problem(name, number, len(content) - len(content.lstrip()) + 1,
                           f"YAML syntax error: missing ':' after '{key}'", f"write `{key}: ...`", "yaml-syntax")
    return Problem(name, line, col, f"YAML syntax error: {exc.problem or exc.context}", hint, "yaml-syntax")


def _line_missing_colon(lines: list[str], before: int) -> tuple[int, str] | None:
    """The nearest non-blank, non-comment line at or above `before` (1-based) when it has no ':'."""
    for index in range(min(before, len(lines)) - 1, -1, -1):
        content = lines[index]
        stripped = content.strip()
        if not stripped or stripped.startswith("#"):
            continue
        return (index + 1, content) if ":" not in stripped and not stripped.startswith("-") else None
    return None
