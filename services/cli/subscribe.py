"""``asbx subscribe``: the partner subscriber client on the command line.

A police or lead-agency officer runs it to take new alerts (and, with ``--events``, the partner
events each alert counted), sees what the sharing agreement lets their audience open, and sees
everything else marked as withheld or shredded. Each opening is in the audit log before it is
shown.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contracts.vocab import Audience, Purpose
from deploy.kafka_client import client_config_from_env
from deploy.security.acls import CHRONOLOGY
from services.protection.keys import LocalKeyStore
from services.settings import Settings
from services.subscriber.client import DisclosedAlert, DisclosedEvent, Subscriber
from services.subscriber.disclosure import Reader

__all__ = ["subscribe_app"]

subscribe_app = typer.Typer(help="Read alerts and events as a partner, audited.")


def _opened_table(title: str, shown: dict[str, object]) -> Table:
    table = Table(title=title, show_lines=False)
    table.add_column("field")
    table.add_column("as this audience sees it", overflow="fold")
    for path, value in shown.items():
        table.add_row(path, value if isinstance(value, str) else json.dumps(value, default=str))
    return table


def _print_alert(console: Console, item: DisclosedAlert) -> None:
    data = item.alert.data
    console.rule(f"[bold]{data.rule.value}[/] alert {item.alert.id}")
    console.print(f"subject {item.alert.subject}  area {item.alert.area}  {data.reason}")
    console.print(
        f"window {data.window_start:%Y-%m-%d} to {data.window_end:%Y-%m-%d}; "
        f"{len(data.incidents)} incident(s); respond by {data.response_due_on or '-'}"
    )
    if item.opened.paths:
        console.print(_opened_table("sealed details", item.opened.shown()))


def _print_event(console: Console, item: DisclosedEvent) -> None:
    event = item.event
    title = f"{event.occurred_at:%Y-%m-%d %H:%M} {event.partner.value} {event.data.kind}"
    console.print(_opened_table(title, item.opened.shown()))


async def _run(reader: Reader, *, limit: int | None, idle: float, events: bool) -> int:
    settings = Settings()
    console = Console()
    count = 0
    async with Subscriber(
        settings.kafka_bootstrap_servers,
        reader,
        LocalKeyStore(settings.keys_dir),
        # asbx's audited disclosure identity: partners' own logins may not read canonical
        # events or write audit records, so opening on a reader's behalf runs as this one.
        client_config=client_config_from_env(principal=CHRONOLOGY),
    ) as subscriber:
        async for item in subscriber.alerts(limit=limit, idle_seconds=idle):
            _print_alert(console, item)
            if events:
                for disclosed in await subscriber.events(item.event_ids, for_alert=item.alert.id):
                    _print_event(console, disclosed)
            count += 1
    console.print(f"{count} alert(s) taken; every opening is recorded in the audit log.")
    return count


@subscribe_app.command("alerts")
def alerts(  # noqa: PLR0917 - typer maps each option to a parameter
    audience: Annotated[Audience, typer.Option(help="the audience your agreement names")],
    organisation: Annotated[str, typer.Option(help="your organisation, e.g. a force name")],
    user: Annotated[str, typer.Option(help="who is reading (recorded in the audit log)")],
    justification: Annotated[str, typer.Option(help="why you need this data now")],
    purpose: Annotated[Purpose, typer.Option(help="the agreed purpose")] = Purpose.ASB_CASE_REVIEW,
    events: Annotated[bool, typer.Option(help="also open each alert's partner events")] = False,
    limit: Annotated[int | None, typer.Option(help="stop after this many alerts")] = None,
    idle: Annotated[float, typer.Option(help="stop after this many quiet seconds")] = 5.0,
) -> None:
    """Take new alerts for your organisation's consumer group, opening what you may read."""
    try:
        reader = Reader(user, organisation, audience, purpose, justification)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    asyncio.run(_run(reader, limit=limit, idle=idle, events=events))
