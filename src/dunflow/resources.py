"""Where the shipped policies, templates, schemas and examples are.

In a wheel they are packaged under `dunflow/scaffold/`; in a source checkout
(editable install) they are the repository's top-level folders.
"""
from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).parent / "scaffold"
_CHECKOUT = Path(__file__).resolve().parents[2]


def resource_path(*parts: str) -> Path:
    for root in (_PACKAGED, _CHECKOUT):
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    raise FileNotFoundError("/".join(parts))
