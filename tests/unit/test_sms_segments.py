"""SMS segment counting (GSM-7 160/153, UCS-2 70/67) and the `validate` check of templates sent by SMS."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dunflow.cli.main import main
from dunflow.domain.sms import segments


def test_gsm7_text_fits_160_per_segment_then_153() -> None:
    assert (segments("a" * 160).encoding, segments("a" * 160).count) == ("GSM-7", 1)
    assert segments("a" * 161).count == 2 and segments("a" * 306).count == 2 and segments("a" * 307).count == 3
    assert segments("").count == 0


def test_extension_characters_take_two_septets() -> None:
    assert segments("€" * 80).units == 160 and segments("€" * 80).count == 1
    assert segments("€" * 81).count == 2 and segments("€" * 81).encoding == "GSM-7"


def test_one_character_outside_gsm7_switches_the_text_to_ucs2_70_then_67() -> None:
    assert segments("ą" * 70) .count == 1 and segments("ą" * 70).encoding == "UCS-2"
    assert segments("ą" * 71).count == 2 and segments("ą" * 134).count == 2 and segments("ą" * 135).count == 3
    assert segments("Zahlung „bitte“").encoding == "UCS-2"  # German curly quotes are not GSM-7
    assert segments("😀").units == 2  # outside the BMP: two UTF-16 units


def _configure_sms(project: Path, most: int) -> None:
    with (project / "dunflow.yaml").open("a", encoding="utf-8") as config:
        config.write(f"channels:\n  sms: {{type: http, url: 'https://sms.example/send', max_segments: {most}}}\n")


def test_validate_checks_sms_length_once_an_sms_channel_is_configured(project_dir: Path) -> None:
    quiet = CliRunner().invoke(main, ["--project", str(project_dir), "validate"])
    assert "[sms-length]" not in quiet.output  # SMS into the outbox folder: length does not matter yet
    _configure_sms(project_dir, 30)
    warned = CliRunner().invoke(main, ["--project", str(project_dir), "validate"])
    assert "[sms-length]" in warned.output and "warning: template 'b2c/reminder'" in warned.output, warned.output


def test_validate_refuses_an_sms_over_the_configured_maximum_with_its_location(project_dir: Path) -> None:
    _configure_sms(project_dir, 1)
    result = CliRunner().invoke(main, ["--project", str(project_dir), "validate"])
    assert result.exit_code == 1 and "more than 1 (channels.sms.max_segments)" in result.output, result.output
    assert "policies/b2c-consumer.yaml:" in result.output and "error: template 'b2c/reminder'" in result.output
