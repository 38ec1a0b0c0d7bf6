"""XML bank files with positions: parsed by expat so every element knows its `line:col`.

Bank files are untrusted input: a DOCTYPE (and with it any ENTITY declaration, the vehicle of
billion-laughs and external-entity attacks) is refused before expat reads a byte of it.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.parsers import expat

from dunflow.errors import InputProblems, Problem


class _Refused(Exception):
    """A DOCTYPE or ENTITY declaration met while parsing; carries where it was."""

    def __init__(self, what: str, line: int, col: int) -> None:
        super().__init__(what)
        self.what, self.line, self.col = what, line, col


@dataclass(frozen=True)
class Xml:
    """A parsed document plus each element's (line, col), which ElementTree itself does not keep."""

    root: ET.Element
    positions: dict[int, tuple[int, int]]

    def where(self, element: ET.Element) -> tuple[int, int]:
        return self.positions.get(id(element), (0, 0))


def parse_xml(label: str, data: bytes) -> Xml:
    """Parse with expat feeding an ElementTree builder, recording positions; no DOCTYPE allowed."""
    parser = expat.ParserCreate(namespace_separator="}")
    builder = ET.TreeBuilder()
    positions: dict[int, tuple[int, int]] = {}
    _wire(parser, builder, positions)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as err:
        hint = "the file is cut off or was changed by hand; download the statement again"
        message = f"malformed XML: {expat.ErrorString(err.code)}"
        raise InputProblems([Problem(label, err.lineno, err.offset + 1, message, hint, "camt/xml")]) from None
    except _Refused as refused:
        hint = "bank statements never need one; it is refused because it can hide an XML entity attack"
        message = f"{refused.what} declarations are not allowed in bank files"
        raise InputProblems([Problem(label, refused.line, refused.col, message, hint, "camt/doctype")]) from None
    return Xml(builder.close(), positions)


def _wire(parser: expat.XMLParserType, builder: ET.TreeBuilder, positions: dict[int, tuple[int, int]]) -> None:
    """Hook expat's callbacks to the builder; element ids stay valid because the tree keeps them alive."""
    def here() -> tuple[int, int]:
        return parser.CurrentLineNumber, parser.CurrentColumnNumber + 1

    def start(name: str, attrs: dict[str, str]) -> None:
        element = builder.start(_clark(name), {_clark(k): v for k, v in attrs.items()})
        positions[id(element)] = here()

    def refuse(what: str) -> None:
        raise _Refused(what, *here())

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: builder.end(_clark(name))
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = lambda *args: refuse("DOCTYPE")
    parser.EntityDeclHandler = lambda *args: refuse("ENTITY")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)


def _clark(name: str) -> str:
    """expat's 'uri}local' → ElementTree's '{uri}local'."""
    return "{" + name if "}" in name else name


