"""What notebook 08 calls: the plan and the ledger as figures, a send with live progress,
the campaign's first KPIs.

Each function returns a frame or a Plotly figure; the notebook shows them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
import polars as pl

from workbench.sending.api import Prepared, send
from workbench.sending.config import SendConfig, relay_from
from workbench.sending.engine import RunResult
from workbench.sending.ledger import Plan, progress
from workbench.sending.records import MaildirRecord
from workbench.sending.sink import Sink
from workbench.store import Store

__all__ = ["campaign_kpis", "ledger_chart", "plan_chart", "printer", "send_with_progress"]

STATUS_COLOURS = {"sent": "#1a7f37", "planned": "#8c959f", "sending": "#0969da", "suppressed": "#9a6700",
                  "failed": "#cf222e", "uncertain": "#8250df"}


def plan_chart(plan: Plan, *, title: str | None = None) -> go.Figure:
    """Planned, suppressed and already planned contacts per mailbox provider (stacked bars)."""
    frame = plan.by_provider()
    fig = go.Figure()
    for column, colour in (("planned", STATUS_COLOURS["planned"]), ("suppressed", STATUS_COLOURS["suppressed"]),
                           ("already_planned", STATUS_COLOURS["sending"])):
        fig.add_bar(x=frame["mailbox_provider"].to_list(), y=frame[column].to_list(), name=column, marker_color=colour)
    fig.update_layout(barmode="stack", title=title or f"Plan of {plan.campaign.campaign_id} by provider",
                      yaxis_title="contacts", legend_title_text="")
    return fig


def ledger_chart(store: Store, campaign_id: str, *, title: str | None = None) -> go.Figure:
    """Where the campaign's messages are, per provider and ledger status (stacked bars).

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    frame = progress(store, campaign_id)
    fig = go.Figure()
    for status in STATUS_COLOURS:
        part = frame.filter(pl.col("status") == status)
        if len(part):
            fig.add_bar(x=part["mailbox_provider"].to_list(), y=part["messages"].to_list(), name=status,
                        marker_color=STATUS_COLOURS[status])
    fig.update_layout(barmode="stack", title=title or f"{campaign_id}: messages by provider and status",
                      yaxis_title="messages", legend_title_text="")
    return fig


def printer(total: int, every: float = 1.0, out: Any = None) -> Callable[[dict[str, int]], None]:
    """A progress callback printing a line at most every ``every`` seconds (notebook output)."""
    stream = out or sys.stdout
    last = [0.0]

    def report(counts: dict[str, int]) -> None:
        now = time.monotonic()
        done = counts.get("sent", 0) + counts.get("failed", 0) + counts.get("suppressed", 0)
        if now - last[0] >= every or done >= total:
            last[0] = now
            print(f"{done:,}/{total:,} done: {counts.get('sent', 0):,} sent, {counts.get('failed', 0):,} failed, "
                  f"{counts.get('deferred', 0):,} deferred, {counts.get('suppressed', 0):,} suppressed", file=stream)

    return report


def send_with_progress(store: Store, prepared: Prepared, config: SendConfig | None = None, *,
                       use_sink: bool = True, bind: dict[str, str] | None = None) -> RunResult:
    """Send ``prepared`` printing progress; ``use_sink`` starts the embedded sink
    (``data/sink/Maildir``) for the send and reconciles with it.

    Raises
    ------
    ConfigError
        A key or a variable is missing.
    SendError
        Another sender runs this campaign.
    """
    config = config or SendConfig.load(store.settings)
    if bind:
        config = config.with_(bind=bind)
    total = prepared.plan.summary()["planned"]
    if not use_sink:
        return send(store, prepared, config, progress=printer(total))
    with Sink(store.settings.data_dir / "sink" / "Maildir") as sink:
        config = config.with_(relay=relay_from(f"127.0.0.1:{sink.port}"))
        return send(store, prepared, config, record=MaildirRecord(sink.maildir), progress=printer(total))


def campaign_kpis(store: Store, campaign_id: str) -> pl.DataFrame:
    """The campaign's KPIs per provider: sent, delivered, bounces, opens, clicks, complaints,
    unsubscribes and their rates.

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    from workbench.analytics import kpis

    frame = kpis(store, by=["provider"], where={"campaign": campaign_id}, intervals=False)
    wanted = ["provider", "sent", "delivered", "bounced", "opened", "clicked", "complained", "unsubscribed",
              "open_rate", "human_open_rate", "click_rate", "unsubscribe_rate"]
    return frame.select([c for c in wanted if c in frame.columns]).sort("sent", descending=True)
