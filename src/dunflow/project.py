"""A dunflow project: the folder with `dunflow.yaml`, `policies/` and `templates/`.

Loaded and validated in one place; every command gets a `Project`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dunflow.domain.links import PaymentLinks
from dunflow.domain.notice import Creditor
from dunflow.errors import DunflowError, InputProblems
from dunflow.policy.load import load_yaml
from dunflow.policy.schema import schema_problems

CONFIG_FILE = "dunflow.yaml"
DATABASE_ENV = "DUNFLOW_DATABASE_URL"


@dataclass(frozen=True)
class Project:
    root: Path
    database_url: str
    creditor: Creditor = field(default_factory=Creditor)
    outbox_dir: Path = Path("outbox")
    batch_size: int = 1000
    csv_profiles: dict[str, Any] = field(default_factory=dict)  # payments.csv_profiles: bank CSV layouts
    accounts: tuple[str, ...] = ()  # payments.accounts: the creditor's IBANs besides creditor.iban
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)  # channels: name → settings (checked)
    links: LinkSettings | None = None  # links: payment links in notices
    timezone: str = ""  # timezone: the default zone for send windows (debtors whose country names none)

    def payment_links(self) -> PaymentLinks | None:
        """The payment links with their secret read from the environment; None when `links:` is not configured."""
        if self.links is None:
            return None
        secret = os.environ.get(self.links.secret_env, "")
        if not secret:
            raise DunflowError(f"{self.root / CONFIG_FILE}: links: the secret variable {self.links.secret_env} is "
                               "not set", f"export {self.links.secret_env}=<a long random string> (the payment page "
                               "verifies tokens with the same secret), or remove `links:`")
        return PaymentLinks(self.links.base_url, secret.encode("utf-8"), self.links.valid_days)
    agencies: dict[str, Any] = field(default_factory=dict)  # collection.agencies: export profile per agency

    @property
    def policies_dir(self) -> Path:
        return self.root / "policies"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"


@dataclass(frozen=True)
class LinkSettings:
    base_url: str
    secret_env: str = "DUNFLOW_LINK_SECRET"
    valid_days: int = 60


def find_root(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise DunflowError(f"no {CONFIG_FILE} in {start} or above",
                       "run the command inside a project, pass --project DIR, or create one with `dunflow init DIR`")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def load_project(start: Path | None = None, database: str | None = None) -> Project:
    root = find_root((start or Path.cwd()).resolve())
    config = _read_config(root / CONFIG_FILE)
    _check_outbox(root, config)
    _check_windows(root, config)
    url = database or os.environ.get(DATABASE_ENV) or config.get("database") or "sqlite:///dunflow.db"
    return Project(
        root=root,
        database_url=_resolve_sqlite(url, root),
        creditor=Creditor(**config.get("creditor", {})),
        outbox_dir=root / config.get("outbox", "outbox"),
        batch_size=config.get("batch_size", 1000),
        csv_profiles=dict(config.get("payments", {}).get("csv_profiles", {})),
        accounts=tuple(config.get("payments", {}).get("accounts", ())),
        channels={name: dict(settings) for name, settings in (config.get("channels") or {}).items()},
        links=LinkSettings(**config["links"]) if config.get("links") else None,
        timezone=config.get("timezone", ""),
        agencies=dict(config.get("collection", {}).get("agencies", {})),
    )


def _read_config(path: Path) -> dict[str, Any]:
    document, problems = load_yaml(path, display=str(path))
    if document is not None:
        problems += schema_problems(document, "project.schema.json")
        if not problems:
            from dunflow.delivery.registry import config_problems

            problems += config_problems(document)
    if problems:
        raise InputProblems(problems)
    assert document is not None
    return dict(document.data or {})


def _check_outbox(root: Path, config: dict[str, Any]) -> None:
    """The outbox is inside the project unless the config says otherwise in so many words: a copied
    `dunflow.yaml` with `outbox: /srv/share` or `../..` must not make `send` write where nobody looks."""
    outbox = (root / config.get("outbox", "outbox")).resolve()
    if not outbox.is_relative_to(root.resolve()) and config.get("outbox_outside_project") is not True:
        raise DunflowError(f"{root / CONFIG_FILE}: outbox '{config.get('outbox')}' is outside the project ({outbox})",
                           "use a folder inside the project, or add `outbox_outside_project: true` to allow it")


def _check_windows(root: Path, config: dict[str, Any]) -> None:
    """Send windows that make sense (`to` after `from`) and a `timezone` that exists, before anything is sent."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from dunflow.domain.windows import parse_window

    for name, channel in (config.get("channels") or {}).items():
        window = channel.get("window") if isinstance(channel, dict) else None
        if window:
            try:
                parse_window(window)
            except ValueError as exc:
                raise DunflowError(f"{root / CONFIG_FILE}: channels.{name}.window: {exc}",
                                   'e.g. window: {days: [mon, tue, wed, thu, fri], from: "08:00", to: "20:00"}') from None
    zone = config.get("timezone")
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DunflowError(f"{root / CONFIG_FILE}: timezone '{zone}' is not a known time zone",
                               "use an IANA name such as Europe/Berlin") from None


def _resolve_sqlite(url: str, root: Path) -> str:
    """`sqlite:///dunflow.db` in dunflow.yaml means the file inside the project."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return sqlite_url(root / url[len(prefix):])
    return url
