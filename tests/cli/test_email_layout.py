"""The e-mail layout is checked by `validate` like any template: a broken one is a located error."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dunflow.cli.main import main


@pytest.mark.parametrize(("layout", "expected"), [
    ("<html>{{ subject }\n", "email-layout.html.j2:1: error: template syntax error"),
    ("<html>{{ nosuch.x }}\n", "email-layout.html.j2: error: 'nosuch' is undefined"),
])
def test_a_broken_email_layout_is_refused_by_validate_with_its_file(project_dir: Path, layout: str,
                                                                    expected: str) -> None:
    (project_dir / "templates" / "email-layout.html.j2").write_text(layout, encoding="utf-8")
    result = CliRunner().invoke(main, ["--project", str(project_dir), "validate"])
    assert result.exit_code == 1
    assert expected in result.output and "[email-layout]" in result.output
    assert "Traceback" not in result.output


def test_the_shipped_layout_validates(project_dir: Path) -> None:
    result = CliRunner().invoke(main, ["--project", str(project_dir), "validate"])
    assert result.exit_code == 0, result.output
