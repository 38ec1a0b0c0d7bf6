"""The channel types of the `channels:` block in dunflow.yaml: `type -> factory(config, project) -> Channel`.

One entry per type in `TYPES`; a new type (letters as PDF, a task queue) plugs in by one line there, naming its
factory and the keys it accepts. Each factory imports its implementation when called, so loading a project
stays cheap. A channel name without a block is delivered by the file sink into the outbox folder.

Secrets never stand in dunflow.yaml: a key ending in `_env` names an environment variable, read when `send` builds
the channel; a missing one is an error naming the variable (never its value).
"""
from __future__ import annotations

import os
from decimal import Decimal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from dunflow.errors import DunflowError, Problem

if TYPE_CHECKING:
    from dunflow.delivery.channels import Channel
    from dunflow.policy.load import Document
    from dunflow.project import Project
    from dunflow.store.uow import Store

CHANNEL_NAMES = ("email", "sms", "letter", "webhook", "task")
NUMBER = (int, float, Decimal)  # the located loader reads 0.5 as a Decimal
COMMON_KEYS: dict[str, Any] = {"type": str, "max_attempts": int, "retry_seconds": NUMBER, "window": dict}
DEFAULT_TYPE = "file"  # a block without `type:` (e.g. only a send window) keeps the file sink


@dataclass(frozen=True)
class ChannelType:
    factory: Callable[[Mapping[str, Any], Project, Store | None], Channel]
    keys: Mapping[str, Any] = field(default_factory=dict)  # key -> accepted Python type(s)
    required: tuple[str, ...] = ()


def secret(config: Mapping[str, Any], key: str, channel: str) -> str:
    """The value of the environment variable that `config[key]` (a `*_env` key) names; '' if the key is absent."""
    variable = config.get(key)
    if not variable:
        return ""
    value = os.environ.get(str(variable))
    if value is None:
        raise DunflowError(f"channel {channel}: the environment variable {variable} ({key}) is not set",
                           f"export {variable}=... before `dunflow send`; secrets are never written in dunflow.yaml")
    return value


def _file(config: Mapping[str, Any], project: Project, store: Store | None = None) -> Channel:
    from dunflow.delivery.channels import FileSink

    folder = project.root / config["folder"] if config.get("folder") else project.outbox_dir
    return FileSink(folder, project.creditor.email)


def _ca_file(config: Mapping[str, Any], project: Project, name: str) -> str:
    """The channel's `ca_file` (relative to the project folder) as a path that exists; "" for the system's CAs."""
    if not config.get("ca_file"):
        return ""
    path = project.root / str(config["ca_file"])
    if not path.is_file():
        raise DunflowError(f"channel {name}: ca_file {path} does not exist",
                           "give the PEM file of the CA that signed the server's certificate, relative to the project")
    return str(path)


def _smtp(config: Mapping[str, Any], project: Project, store: Store | None = None) -> Channel:
    from dunflow.delivery.smtp import SmtpChannel

    name = str(config.get("_name", "email"))
    mode = "ssl" if config.get("ssl") else "starttls" if config.get("starttls", True) else "plain"
    sender = str(config.get("from") or project.creditor.email)
    try:
        return SmtpChannel(str(config["host"]), int(config.get("port", 465 if mode == "ssl" else 587)), sender,
                           mode=mode, username=secret(config, "username_env", name),
                           password=secret(config, "password_env", name),
                           rate_per_second=float(config.get("rate_per_second", 0)),
                           timeout=float(config.get("timeout", 30)), ca_file=_ca_file(config, project, name))
    except Exception as exc:  # noqa: BLE001 - PermanentFailure on a bad sender address
        if isinstance(exc, DunflowError):
            raise
        raise DunflowError(f"channel {name}: {getattr(exc, 'reason', exc)}",
                           "set `from:` (or creditor.email) to one address, e.g. \"Accounts <ar@example.com>\"") from None


def _http(config: Mapping[str, Any], project: Project, store: Store | None = None) -> Channel:
    from dunflow.delivery.http import HttpChannel

    name = str(config.get("_name", "webhook"))
    return HttpChannel(str(config["url"]), secret(config, "secret_env", name),
                       timeout=float(config.get("timeout", 10)), rate_per_second=float(config.get("rate_per_second", 0)),
                       ca_file=_ca_file(config, project, name))


def _pdf(config: Mapping[str, Any], project: Project, store: Store | None = None) -> Channel:
    from dunflow.delivery.letters import pdf_channel

    return pdf_channel(dict(config), project, store)


def _queue(config: Mapping[str, Any], project: Project, store: Store | None = None) -> Channel:
    from dunflow.delivery.queue import queue_channel

    if store is None:
        raise DunflowError("the task channel (type: queue) writes tasks into the database; it needs the project's store")
    return queue_channel(dict(config), project, store)


TYPES: dict[str, ChannelType] = {
    "pdf": ChannelType(_pdf, {"folder": str}),
    "queue": ChannelType(_queue, {"due_days": int}),
    "file": ChannelType(_file, {"folder": str}),
    "smtp": ChannelType(_smtp, {"host": str, "port": int, "starttls": bool, "ssl": bool, "username_env": str,
                                "password_env": str, "from": str, "rate_per_second": NUMBER, "timeout": NUMBER,
                                "ca_file": str},
                        ("host",)),
    "http": ChannelType(_http, {"url": str, "secret_env": str, "timeout": NUMBER, "rate_per_second": NUMBER,
                                "max_segments": int, "ca_file": str}, ("url",)),
}


def config_problems(document: Document) -> list[Problem]:
    """Located problems of the `channels:` block: unknown names, types and keys, wrong value types, bad values."""
    block = (document.data or {}).get("channels") if isinstance(document.data, dict) else None
    if block is None:
        return []
    if not isinstance(block, dict):
        return [document.problem(("channels",), "channels must be a mapping of channel name to settings")]
    problems: list[Problem] = []
    for name, config in block.items():
        where: tuple[Any, ...] = ("channels", name)
        if name not in CHANNEL_NAMES:
            problems.append(document.problem(where, f"unknown channel '{name}'", f"channels are {', '.join(CHANNEL_NAMES)}",
                                             key=True))
            continue
        if not isinstance(config, dict):
            problems.append(document.problem(where, f"channel {name} must be a mapping like {{type: smtp, ...}}"))
            continue
        kind = config.get("type", DEFAULT_TYPE)
        if kind not in TYPES:
            problems.append(document.problem((*where, "type"), f"channel {name}: unknown type {kind!r}",
                                             f"types: {', '.join(sorted(TYPES))}"))
            continue
        known = {**COMMON_KEYS, **TYPES[kind].keys}
        for key, value in config.items():
            if key not in known:
                problems.append(document.problem((*where, key), f"channel {name}: unknown key '{key}' for type {kind}",
                                                 f"keys of {kind}: {', '.join(sorted(known))}", key=True))
            elif not isinstance(value, known[key]) or (isinstance(value, bool) and known[key] is not bool):
                problems.append(document.problem((*where, key), f"channel {name}: {key} has the wrong type"))
            elif key.endswith("_env") and not str(value).replace("_", "").isalnum():
                problems.append(document.problem((*where, key), f"channel {name}: {key} must name an environment "
                                                 "variable (the secret itself never stands in dunflow.yaml)"))
            elif key in ("max_attempts", "port", "max_segments") and not 1 <= value <= 65535:
                problems.append(document.problem((*where, key), f"channel {name}: {key} must be at least 1"))
            elif key in ("rate_per_second", "timeout", "retry_seconds") and value < 0:
                problems.append(document.problem((*where, key), f"channel {name}: {key} must not be negative"))
            elif key == "url" and not str(value).startswith(("https://", "http://")):
                problems.append(document.problem((*where, key), f"channel {name}: url must start with https:// "
                                                 "(or http:// for a server on this network)"))
        problems += [document.problem(where, f"channel {name}: type {kind} needs '{key}'")
                     for key in TYPES[kind].required if key not in config]
        if kind == "smtp" and config.get("ssl") and config.get("starttls"):
            problems.append(document.problem((*where, "ssl"), f"channel {name}: ssl and starttls exclude each other",
                                             "port 465: ssl: true; port 587: starttls: true"))
    return problems


def build_channel(name: str, project: Project, store: Store | None = None) -> Channel:
    """The channel that delivers messages of channel `name` (email, sms…): configured, or the file sink.
    `store`: the project's database, for the channels that read or write it (letters' addresses, tasks)."""
    config = project.channels.get(name)
    if config is None:
        return _file({}, project, store)
    return TYPES[config.get("type", DEFAULT_TYPE)].factory({**config, "_name": name}, project, store)
