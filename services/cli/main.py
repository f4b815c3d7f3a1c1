"""``asbx``: run the broker, the topics, the services, the demo, and contract generation.

The broker commands use the local KRaft node unless ``KAFKA_BOOTSTRAP_SERVERS`` names a cluster.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Annotated

import typer

from contracts.vocab import Audience, Partner
from services.cli.audit import audit_app
from services.cli.keys import keys_app
from services.cli.subscribe import subscribe_app
from services.gc_tuning import calm_collection
from services.malloc_tuning import heap_trimming
from services.observability.logging import configure_logging

__all__ = ["app"]

app = typer.Typer(help="asbx: partner data exchange for the ASB Case Review.", no_args_is_help=True)
broker_app = typer.Typer(help="The local single-node Kafka broker.", no_args_is_help=True)
contracts_app = typer.Typer(help="Published contracts: JSON Schema and AsyncAPI.")
app.add_typer(broker_app, name="broker")
app.add_typer(contracts_app, name="contracts")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(subscribe_app, name="subscribe")


@broker_app.command("start")
def broker_start() -> None:
    """Start the local broker (harmless if it is already running)."""
    from deploy.local_kafka import LocalKafka  # noqa: PLC0415 - stdlib-only module

    kafka = LocalKafka()
    address = kafka.start()
    typer.echo(f"Kafka {kafka.version()} ready at {address}")


@broker_app.command("stop")
def broker_stop() -> None:
    """Stop the local broker cleanly (harmless if it is not running)."""
    from deploy.local_kafka import LocalKafka  # noqa: PLC0415

    stopped = LocalKafka().stop()
    typer.echo("stopped" if stopped else "not running")


@broker_app.command("status")
def broker_status() -> None:
    """Say whether the local broker runs, and where."""
    from deploy.local_kafka import LocalKafka  # noqa: PLC0415

    typer.echo(str(LocalKafka().status()))


@app.command("topics")
def topics() -> None:
    """Create every declared topic (idempotent) on the configured cluster.

    On the local node the ACLs derived from the agreements are applied too (see ``acls``).
    """
    from deploy.kafka_client import client_config_from_env  # noqa: PLC0415
    from deploy.security.apply import ensure_local_acls  # noqa: PLC0415
    from deploy.topics import ensure_topics  # noqa: PLC0415
    from services.correlator.settings import CorrelatorSettings  # noqa: PLC0415
    from services.settings import Settings  # noqa: PLC0415

    bootstrap = Settings().kafka_bootstrap_servers
    created = asyncio.run(ensure_topics(bootstrap, client_config=client_config_from_env()))
    typer.echo(f"created {len(created)} topic(s): {', '.join(created) or 'none needed'}")
    applied = asyncio.run(ensure_local_acls(bootstrap, [CorrelatorSettings().correlator_id]))
    if applied:
        typer.echo(f"{applied} ACL(s) in force on the local node")


@app.command("acls")
def acls(
    dry_run: Annotated[bool, typer.Option(help="Print the ACLs instead of applying them.")] = False,
) -> None:
    """Converge the configured cluster on the ACLs derived from the data-sharing agreements.

    Connects with the ``KAFKA_*`` credentials (or the local node's admin), which must be allowed
    to alter ACLs. Grants of asbx's own principals that the agreements no longer derive are
    removed; other principals' ACLs are left alone. Safe to repeat.
    """
    from deploy.kafka_client import client_config_from_env  # noqa: PLC0415
    from deploy.security.acls import acls_from_config, managed_principals  # noqa: PLC0415
    from deploy.security.apply import ensure_acls  # noqa: PLC0415
    from services.correlator.settings import CorrelatorSettings  # noqa: PLC0415
    from services.settings import Settings  # noqa: PLC0415

    wanted = acls_from_config(correlator_ids=[CorrelatorSettings().correlator_id])
    if dry_run:
        for acl in wanted:
            typer.echo(
                f"ALLOW {acl.kafka_principal} {acl.operation.name} {acl.resource.name} "
                f"{acl.pattern.name} {acl.name}"
            )
        return
    bootstrap = Settings().kafka_bootstrap_servers
    count = asyncio.run(
        ensure_acls(bootstrap, wanted, client_config_from_env(), managed_principals())
    )
    typer.echo(f"{count} ACL(s) in force on {bootstrap}")


@app.command("serve")
def serve(
    service: Annotated[str, typer.Argument(help="housing, health, police or correlator")],
) -> None:
    """Run one service until interrupted (SIGINT/SIGTERM stop it cleanly).

    With ``ASBX_HTTP_PORT`` set, the service also serves ``/livez``, ``/readyz`` and ``/metrics``.
    """
    # Until the service installs its own handler (which finishes the record in hand and
    # commits), SIGTERM finds nothing in flight: leave with status 0, as a clean stop should.
    signal.signal(signal.SIGTERM, _stopped_before_start)
    configure_logging()
    if service == "correlator":
        asyncio.run(_serve_correlator())
        return
    if service not in {p.value for p in Partner}:
        raise typer.BadParameter(f"unknown service {service!r}")
    asyncio.run(_serve_normaliser(service))


async def _serve_normaliser(partner: str) -> None:
    from contracts.topics import inbound_topic  # noqa: PLC0415
    from deploy.kafka_client import client_config_from_env  # noqa: PLC0415
    from deploy.security.acls import normaliser_principal  # noqa: PLC0415
    from services.cpu_priority import yield_cpu  # noqa: PLC0415
    from services.normalise.app import build_normaliser, normaliser_group  # noqa: PLC0415
    from services.observability.endpoint import operability  # noqa: PLC0415
    from services.partners.registry import adapter_for  # noqa: PLC0415

    service = build_normaliser(adapter_for(partner))
    yield_cpu(service.settings.normaliser_niceness)  # the correlator after it goes first
    async with (
        heap_trimming(),
        calm_collection(),
        operability(
            f"normaliser-{partner}",
            port=service.settings.http_port,
            bootstrap=service.settings.kafka_bootstrap_servers,
            groups={normaliser_group(partner): inbound_topic(partner)},
            ready=service.ready,
            # The lag probe describes the normaliser's own group and input: its own principal may.
            client_config=client_config_from_env(principal=normaliser_principal(partner)),
        ),
    ):
        watchdog = asyncio.create_task(service.watch_consumer(), name="consumer-watchdog")
        try:
            await service.app.run()
        finally:
            watchdog.cancel()
    if service.consumer_failure() is not None:
        raise SystemExit(1)  # stopped because its consumer failed: a supervisor restarts it


def _stopped_before_start(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


async def _serve_correlator() -> None:
    from services.correlator.app import METRICS_SERVICE, build_correlator  # noqa: PLC0415
    from services.correlator.domain.policy import PolicyError  # noqa: PLC0415
    from services.observability.endpoint import operability  # noqa: PLC0415
    from services.settings import Settings  # noqa: PLC0415

    settings = Settings()
    try:
        service = build_correlator(settings.kafka_bootstrap_servers)
    except PolicyError as exc:
        typer.echo(f"area policy refused: {exc}", err=True)
        raise typer.Exit(2) from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with (
        heap_trimming(),
        calm_collection(),
        operability(
            METRICS_SERVICE,
            port=settings.http_port,
            bootstrap=service.bootstrap,
            groups=service.groups,
            ready=service.ready,
            client_config=service.client_config,
        ),
    ):
        await service.run(stop)


@app.command("demo")
def demo(
    keep_broker: Annotated[
        bool, typer.Option(help="Leave the local broker running afterwards.")
    ] = True,
) -> None:
    """Start the broker, create topics, run the services and replay the cuckooing scenario."""
    # The demo's own tables say what happened; logs would only interleave with them.
    configure_logging(fmt="json" if os.environ.get("CI") else "console", level="ERROR")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    from services.demo.runner import run_demo  # noqa: PLC0415

    raise typer.Exit(asyncio.run(run_demo(keep_broker=keep_broker)))


@app.command("chronology")
def chronology(  # noqa: PLR0917 - typer maps each parameter to an option
    subject: Annotated[str, typer.Argument(help="subject token, e.g. from an alert")],
    audience: Annotated[Audience, typer.Option(help="whose keys open the sealed fields")],
    purpose: Annotated[str, typer.Option(help="why the record is consulted")],
    justification: Annotated[str, typer.Option(help="recorded in the audit log")],
    actor: Annotated[str, typer.Option(help="who is asking")] = "lead-officer",
    alert: Annotated[
        list[str] | None, typer.Option(help="alert id the chronology is built for (repeatable)")
    ] = None,
) -> None:
    """A subject's events across partners, oldest first; opening is audited as a disclosure."""
    configure_logging(fmt="json", level="WARNING")
    from services.cli.chronology import show_chronology  # noqa: PLC0415

    asyncio.run(
        show_chronology(
            subject, audience, purpose, justification, actor, alert_ids=tuple(alert or ())
        )
    )


@app.command("web")
def web(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Serve the information-governance review web UI (passwords in var/web/)."""
    configure_logging()
    import uvicorn  # noqa: PLC0415

    from services.web.app import create_app  # noqa: PLC0415
    from services.web.settings import WebSettings  # noqa: PLC0415

    settings = WebSettings()
    application = create_app(settings)
    typer.echo(
        f"IG review on http://{host}:{port}/ ; local passwords in "
        f"{settings.state_dir / 'local-passwords.txt'}"
    )
    uvicorn.run(application, host=host, port=port, log_config=None, access_log=False)


@contracts_app.command("generate")
def contracts_generate() -> None:
    """Regenerate JSON Schemas and the AsyncAPI document from the code."""
    from contracts.schema_export import write_schemas  # noqa: PLC0415
    from services.asyncapi_doc import write_asyncapi  # noqa: PLC0415

    for path in [*write_schemas(), write_asyncapi()]:
        typer.echo(f"wrote {path}")


if __name__ == "__main__":
    app()
