"""Template files stay inside the project: names are plain paths, and links leading out are refused, located."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dunflow.cli.main import main
from dunflow.errors import DunflowError
from dunflow.rendering.templates import TemplateOutsideProject, TemplateStore

SECRET = "root:x:0:0:the secret a symlink must never deliver"


def validate(project: Path) -> Result:
    return CliRunner().invoke(main, ["--project", str(project), "validate"], catch_exceptions=False)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "passwd"
    path.parent.mkdir()
    path.write_text("{% block subject %}" + SECRET + "{% endblock %}{% block body %}" + SECRET + "{% endblock %}")
    return path


def line_of(policy: Path, text: str) -> int:
    return next(n for n, line in enumerate(policy.read_text().splitlines(), 1) if text in line)


def test_a_template_file_linked_outside_the_project_is_a_located_validate_error(project_dir: Path,
                                                                                 secret: Path) -> None:
    reminder = project_dir / "templates" / "de" / "b2b" / "reminder.j2"
    reminder.unlink()
    reminder.symlink_to(secret)
    result = validate(project_dir)
    assert result.exit_code == 1
    assert "Traceback" not in result.output and SECRET not in result.output
    line = line_of(project_dir / "policies" / "b2b-standard.yaml", "template: b2b/reminder")
    assert f"policies/b2b-standard.yaml:{line}:15: error: template 'b2b/reminder': template file" in result.stderr
    assert f"leads outside the templates folder (to {secret.resolve()})" in result.stderr
    assert "[template-outside-project]" in result.stderr


def test_a_language_folder_linked_outside_the_project_is_refused(project_dir: Path, secret: Path) -> None:
    (secret.parent / "b2b").mkdir()
    (secret.parent / "b2b" / "reminder.j2").symlink_to(secret)
    (project_dir / "templates" / "it").symlink_to(secret.parent, target_is_directory=True)
    result = validate(project_dir)
    assert result.exit_code == 1
    assert "templates/it/b2b/reminder.j2 leads outside the templates folder" in result.stderr


def test_a_run_refuses_to_start_while_a_template_leads_outside(project_dir: Path, secret: Path) -> None:
    reminder = project_dir / "templates" / "de" / "b2b" / "reminder.j2"
    reminder.unlink()
    reminder.symlink_to(secret)
    result = CliRunner().invoke(main, ["--project", str(project_dir), "run", "--as-of", "2026-12-01"])
    assert result.exit_code == 1
    assert "leads outside the templates folder" in result.stderr and SECRET not in result.output


def test_the_store_never_reads_a_linked_file_or_include_outside_its_folder(tmp_path: Path, secret: Path) -> None:
    root = tmp_path / "templates"
    (root / "en").mkdir(parents=True)
    (root / "en" / "leak.j2").symlink_to(secret)
    (root / "en" / "includer.j2").write_text(
        "{% block subject %}hi{% endblock %}{% block body %}{% include 'en/leak.j2' %}{% endblock %}")
    store = TemplateStore(root)
    with pytest.raises(TemplateOutsideProject):
        store.exists("leak", "en")
    for name in ("leak", "includer"):
        with pytest.raises(TemplateOutsideProject) as caught:
            store.render(name, "en", {})
        assert SECRET not in caught.value.message


def test_a_link_that_stays_inside_the_templates_folder_is_fine(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    (root / "en").mkdir(parents=True)
    (root / "en" / "real.j2").write_text("{% block subject %}S{% endblock %}{% block body %}B{% endblock %}")
    (root / "en" / "alias.j2").symlink_to(root / "en" / "real.j2")
    assert TemplateStore(root).render("alias", "en", {}).subject == "S"


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "b2b/../../x", ".hidden"])
def test_a_template_name_that_is_no_plain_path_is_refused_by_the_store(tmp_path: Path, name: str) -> None:
    store = TemplateStore(tmp_path)
    assert not store.exists(name, "en")
    with pytest.raises(DunflowError, match="not a valid template name"):
        store.render(name, "en", {})


def test_a_render_error_names_the_templates_own_line(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "t.j2").write_text(
        "{% block subject %}S{% endblock %}\n{% block body %}\nline three\n{{ debtor.nickname }}\n{% endblock %}\n")
    with pytest.raises(DunflowError) as caught:
        TemplateStore(tmp_path).render("t", "en", {"debtor": {}})
    assert f"{tmp_path / 'en' / 't.j2'}:4: template error:" in caught.value.message
