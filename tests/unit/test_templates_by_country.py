"""Law by country, wording by language: a country's own version of a template (`<lang>/<COUNTRY>/<name>.j2`)
wins for debtors in that country; the language falls back debtor → policy default → en."""
from __future__ import annotations

from pathlib import Path

from dunflow.rendering.templates import TemplateStore
from dunflow.resources import resource_path

SHIPPED = TemplateStore(resource_path("templates"))


def choice(store: TemplateStore, name: str, language: str, country: str, default: str = "nl") -> str:
    chosen = store.language_for(name, language, default, country)
    return f"{chosen}/{store.variant(name, chosen, country)}"


def test_a_dutch_consumer_gets_the_fourteen_day_letter() -> None:
    assert choice(SHIPPED, "b2c/notice", "nl", "NL") == "nl/NL/b2c/notice"


def test_a_dutch_consumer_reading_english_gets_it_in_english() -> None:
    assert choice(SHIPPED, "b2c/notice", "en", "NL") == "en/NL/b2c/notice"


def test_a_belgian_consumer_never_gets_the_dutch_fourteen_day_letter() -> None:
    assert choice(SHIPPED, "b2c/notice", "nl", "BE") == "nl/b2c/notice"
    assert choice(SHIPPED, "b2c/notice", "fr", "BE") == "fr/b2c/notice"


def test_the_country_version_wins_over_the_debtors_language(tmp_path: Path) -> None:
    """A German-speaking debtor in the Netherlands: no de/NL version, so the Dutch law's letter in the policy's
    default language, not the German wording that knows nothing of the 14-day term."""
    assert choice(SHIPPED, "b2c/notice", "de", "NL") == "nl/NL/b2c/notice"


def test_the_language_falls_back_to_the_policy_default_then_english(tmp_path: Path) -> None:
    for language, text in (("en", "en"), ("nl", "nl")):
        (tmp_path / language / "x").mkdir(parents=True)
        (tmp_path / language / "x" / "letter.j2").write_text(
            "{% block subject %}" + text + "{% endblock %}{% block body %}b{% endblock %}", encoding="utf-8")
    store = TemplateStore(tmp_path)
    assert store.language_for("x/letter", "fr", "nl", "BE") == "nl"
    assert store.language_for("x/letter", "fr", "de", "BE") == "en"
    assert store.language_for("x/letter", "nl", "de") == "nl"


def test_the_country_folder_is_used_only_for_a_real_country_code(tmp_path: Path) -> None:
    (tmp_path / "en" / "NL" / "x").mkdir(parents=True)
    (tmp_path / "en" / "NL" / "x" / "letter.j2").write_text("{% block subject %}s{% endblock %}", encoding="utf-8")
    store = TemplateStore(tmp_path)
    assert store.countries("en") == ["NL"]
    assert store.variant("x/letter", "en", "nl") == "NL/x/letter"  # codes are compared in upper case
    assert store.variant("x/letter", "en", "N1") == "x/letter"
    assert store.variant("x/letter", "en", "NL") == "NL/x/letter"
