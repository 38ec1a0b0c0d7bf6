"""One set of rules for the text an import stores, the same on SQLite and PostgreSQL.

Every text field of a debtor or invoice is checked here before it reaches the database:
- no control characters (NUL, line breaks, tabs, escape sequences, C1 codes) and no Unicode
  direction overrides: they end up in e-mail headers, letters and terminals, and PostgreSQL
  refuses NUL outright while SQLite stores it;
- no longer than the schema's column (`store.limits`, read from the ORM), which PostgreSQL enforces
  and SQLite does not;
- an e-mail field holds exactly one address (a comma or a line break would add recipients or
  headers); a language is a code like `de` or `de-at`, never a path (`de/../de`).
"""
from __future__ import annotations

import re
from typing import Mapping

from dunflow.errors import Problem
from dunflow.formats.tables import Row

# C0 and C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
EMAIL = re.compile(r"[^\s@,;:<>()\[\]\\\"']+@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}")
LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][a-z0-9]{2,4})?")


def refuse_control_characters(row: Row, problems: list[Problem]) -> bool:
    """True (and one Problem per bad cell) when any cell of `row` holds a control character."""
    if not CONTROL.search("".join(row.values.values())):
        return False
    for column, text in row.values.items():
        found = CONTROL.search(text)
        if found:
            problems.append(Problem(row.file, row.line, row.col(column),
                                    f"column '{column}' holds the control character U+{ord(found.group()):04X}",
                                    "remove line breaks, tabs, NUL bytes and other invisible characters from the cell",
                                    "input/control-character"))
    return True


def refuse_too_long(row: Row, lengths: Mapping[str, int], problems: list[Problem], prefix: str = "") -> bool:
    """True (and a Problem per cell) when a cell is longer than its column in the schema (`prefix` + name)."""
    found = False
    for name, limit in lengths.items():
        column = prefix + name
        size = len(row.get(column))
        if size > limit:
            found = True
            problems.append(Problem(row.file, row.line, row.col(column),
                                    f"column '{column}' is {size:,} characters long; at most {limit} are stored",
                                    f"shorten it to {limit} characters", "input/too-long"))
    return found


def email_address(row: Row, column: str, problems: list[Problem]) -> str:
    """The cell's one e-mail address ('' when empty); a list, a display name or a header is refused."""
    text = row.get(column)
    if text and not EMAIL.fullmatch(text):
        several = any(mark in text for mark in ",;") or text.count("@") > 1
        what = "holds several addresses" if several else "is not one e-mail address"
        problems.append(Problem(row.file, row.line, row.col(column), f"{column} '{text}' {what}",
                                "write exactly one address like ap@example.com (one address per field)",
                                "bad-email"))
    return text


def language_code(row: Row, column: str, problems: list[Problem]) -> str:
    """The cell as a lower-case language code ('' when empty), e.g. `de`, `nl`, `de-at`."""
    text = row.get(column).lower()
    if text and not LANGUAGE.fullmatch(text):
        problems.append(Problem(row.file, row.line, row.col(column), f"{column} '{row.get(column)}' is not a "
                                "language code", "write an ISO 639 code like de, nl, en, or de-at", "bad-language"))
    return text
