"""``workbench track serve`` and ``workbench track ingest``.

Exit codes: 0 success; 1 an error the message explains (no tracking key, port in use).
"""

from __future__ import annotations

from pathlib import Path

import click

from workbench.cli import _emit, _store, db_option, err, handle_errors, json_option

__all__ = ["COMMANDS"]


@click.group("track")
def track() -> None:
    """Open, click and unsubscribe tracking (the ASGI app and its spool)."""


@track.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8025, show_default=True)
@click.option("--base-url", default=None, help="The public URL the links point at (default http://HOST:PORT).")
@click.option("--organisation", default="us", show_default=True, help="Who the unsubscribe page names.")
@click.option("--interval", type=float, default=10.0, show_default=True, help="Seconds between spool loads.")
@click.option("--trust-proxy", is_flag=True, help="Take the client address from X-Forwarded-For (behind a proxy).")
@click.pass_context
@handle_errors
def serve(ctx: click.Context, host: str, port: int, base_url: str | None, organisation: str, interval: float,
          trust_proxy: bool) -> None:
    """Serve the open pixel, click redirects, the unsubscribe page and RFC 8058 one-click
    POSTs; events go to data/tracking/spool and into the store every --interval seconds
    (an unsubscribe at once)."""
    from workbench.tracking.serve import serve as run

    settings = ctx.obj["settings"]
    if ctx.obj.get("db"):
        settings = settings.with_db(ctx.obj["db"])
    err.print(f"tracking on http://{host}:{port} (links: {base_url or f'http://{host}:{port}'})")
    run(settings, host=host, port=port, base_url=base_url, organisation=organisation, interval=interval,
        trust_proxy=trust_proxy)


@track.command("ingest")
@db_option
@json_option
@click.pass_context
@handle_errors
def ingest(ctx: click.Context, db: Path | None, as_json: bool) -> None:
    """Load the tracking spool into the store now (and apply unsubscribes)."""
    from workbench.tracking.serve import Ingestor, spool_dir

    store = _store(ctx, db)
    loaded = Ingestor(store, spool_dir(ctx.obj["settings"])).ingest()
    _emit({"loaded": loaded}) if as_json else err.print(f"{loaded:,} tracking events loaded")


#: registered by workbench.cli
COMMANDS: list[click.Command] = [track]
