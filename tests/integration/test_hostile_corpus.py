"""Every hostile policy, template and config file of tests/corpus is refused with a located error, fast,
in bounded memory, with no traceback and an unchanged database, on SQLite and PostgreSQL.

Each file is listed here with the words its error must contain, so a new corpus file without an
expectation fails, and a loader that starts accepting a hostile file fails too. The CLI runs in a
subprocess under an address-space limit and a timeout: a file that blew up memory or hung before
the limits existed fails here instead of taking the machine down.
"""
from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_payments import Dunflow, dunflow  # noqa: F401 - fixture

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
MEMORY_LIMIT = 1536 * 1024 * 1024  # address space of the whole CLI process (Python, SQLAlchemy, psycopg…)
TIME_LIMIT = 60  # seconds; the limits answer within a few, a shared CI machine is slow
DUNFLOW = [sys.executable, "-c", "from dunflow.cli.main import main; main()"]

POLICIES = {
    "alias-bomb.yaml": (":1:", "the aliases expand to more than 100,000 values"),
    "deep-nesting.yaml": (":1:", "nesting deeper than 32 levels"),
    "python-name-tag.yaml": (":1:7:", "YAML tag 'tag:yaml.org,2002:python/name:os.system' is not allowed"),
    "recursive-alias.yaml": (":1:7:", "an alias refers to a mapping or list that contains it"),
    "ten-thousand-steps.yaml": (":1:1:", "file is larger than 256,000 bytes"),
    "thousand-steps.yaml": (":28:1:", "steps: 1,000 entries; at most 50"),
}
TEMPLATES = {
    "big-range.j2": (":4:", "range of 100,000 items; the limit is 1,000"),
    "center-huge.j2": (":4:", "an argument of 1,000,000,000 is over the limit of 100,000"),
    "doubling-join.j2": (":4:", "a joined text (~) would be 160,000 long"),
    "endless-macro.j2": ("", "a macro calls itself without end"),
    "format-width.j2": (":4:", "a formatted field would be 999,999,999 long"),
    "method-format-width.j2": (":4:", "a formatted field would be 999,999,999 long"),
    "nested-loops.j2": (":4:", "more than 100,000 loop steps and calls"),
    "output-flood.j2": ("", "the rendered text is longer than 100,000 characters"),
    "power-tower.j2": (":4:", "a power with more than 256 bits"),
    "repeat-gigabyte.j2": (":4:", "a repeated text or list (*) would be 1,000,000,000 long"),
    "replace-square.j2": (":4:", "a replaced text would be 2,500,100,000 long"),
}
CONFIG = {  # appended to the project's dunflow.yaml
    "alias-bomb.yaml": ("dunflow.yaml:", "the aliases expand to more than 100,000 values"),
    "deep-nesting.yaml": ("dunflow.yaml:14:", "nesting deeper than 32 levels"),
    "outbox-outside.yaml": ("dunflow.yaml:", "outbox '../../etc' is outside the project"),
    "python-object.yaml": ("dunflow.yaml:14:8:", "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'"),
}


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def bounded(cli: Dunflow, *args: str) -> tuple[int, str, float]:
    """Exit code, stdout+stderr and seconds of one CLI run under the memory and time limits."""
    started = time.monotonic()
    done = subprocess.run([*DUNFLOW, *cli.base, *args], capture_output=True, text=True, timeout=TIME_LIMIT,
                          preexec_fn=_limited, cwd=cli.project)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def refused(cli: Dunflow, where: str, words: str, *args: str) -> str:
    before = cli.counts()
    code, out, seconds = bounded(cli, *args)
    assert code == 1, out
    assert where in out and words in out, out
    assert "Traceback" not in out and "crashed" not in out, out
    assert seconds < TIME_LIMIT / 2, f"{seconds:.1f} s"
    assert cli.counts() == before
    return out


@pytest.mark.parametrize("corpus, expected", [("policies", POLICIES), ("templates", TEMPLATES),
                                              ("config", CONFIG)])
def test_every_corpus_file_has_an_expectation(corpus: str, expected: dict[str, object]) -> None:
    assert sorted(path.name for path in (CORPUS / corpus).iterdir()) == sorted(expected)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_hostile_policy_is_refused_by_validate_and_run(dunflow: Dunflow, name: str) -> None:
    shutil.copy(CORPUS / "policies" / name, dunflow.project / "policies" / name)
    where, words = POLICIES[name]
    refused(dunflow, f"policies/{name}{where}", words, "validate")
    refused(dunflow, f"policies/{name}{where}", words, "run", "--as-of", "2026-12-01")


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_hostile_template_is_refused_by_validate_and_not_rendered_by_status(dunflow: Dunflow, name: str) -> None:
    target = dunflow.project / "templates" / "de" / "b2b" / "reminder.j2"
    shutil.copy(CORPUS / "templates" / name, target)
    where, words = TEMPLATES[name]
    out = refused(dunflow, f"{target}{where}", words, "validate")
    assert "template over a limit" in out
    code, out, _ = bounded(dunflow, "status")  # status needs no template: it does not render one
    assert code == 0, out


@pytest.mark.parametrize("name", sorted(CONFIG))
def test_hostile_config_is_refused_by_status(dunflow: Dunflow, name: str) -> None:
    config = dunflow.project / "dunflow.yaml"
    hostile = (CORPUS / "config" / name).read_text(encoding="utf-8")
    top_keys = {line.split(":")[0] for line in hostile.splitlines() if line[:1].isalpha()}
    kept = [line for line in config.read_text(encoding="utf-8").splitlines(keepends=True)
            if not (line.split(":")[0] in top_keys and line.split(":", 1)[1].strip())]  # a one-line key: the file's wins
    config.write_text("".join(kept) + hostile, encoding="utf-8")
    where, words = CONFIG[name]
    refused(dunflow, where, words, "status")
