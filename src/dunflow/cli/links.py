"""`dunflow link verify TOKEN`: is a payment-link token ours, still valid, and which notice is it?"""
from __future__ import annotations

import sys
from typing import Any

import click

from dunflow.cli import output
from dunflow.cli.common import ISO_DATE, READ_FORMAT, workspace
from dunflow.errors import DunflowError


@click.group()
def link() -> None:
    """Payment links (`links:` in dunflow.yaml)."""


@link.command(name="verify")
@click.argument("token")
@click.option("--as-of", "on", type=ISO_DATE, help="Check validity on this date (default: today).")
@READ_FORMAT
@click.pass_context
def link_verify(ctx: click.Context, token: str, on: Any, fmt: str) -> None:
    """Say whether TOKEN (or a whole payment link) is valid, expired or forged, and name its notice.
    Exit 0 when valid, 1 when expired or forged."""
    from dunflow.domain.links import VALID, verify

    ws = workspace(ctx)
    links = ws.project.payment_links()
    if links is None:
        raise DunflowError("no payment links configured", "add `links: {base_url: ..., secret_env: ...}` to "
                           "dunflow.yaml")
    verdict = verify(links.token_of(token), links.secret, on or ws.clock.today())
    claims = verdict.claims
    data: dict[str, Any] = {"status": verdict.status, "why": verdict.why, "notice": None}
    if claims is not None:
        data["notice"] = {"key": claims.key, "invoices": list(claims.invoices), "debtor": claims.debtor,
                          "step": claims.step, "expires_on": claims.expires_on.isoformat()}
    if fmt == "json":
        output.emit_json(data)
    elif claims is not None:
        click.echo(f"{verdict.status}: {claims.step} to debtor {claims.debtor} for {', '.join(claims.invoices)} "
                   f"(valid until {claims.expires_on.isoformat()}; notice {claims.key})")
    else:
        click.echo(f"{verdict.status}: {verdict.why}")
    if verdict.status != VALID:
        sys.exit(1)


COMMANDS = [link]
