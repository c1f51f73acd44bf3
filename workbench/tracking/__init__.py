"""Open, click and unsubscribe tracking: signed tokens, the ASGI app, the spool.

``workbench track serve`` runs :func:`workbench.tracking.app.create_app` under uvicorn and
loads its spool into the store; the sender makes tracking URLs with :class:`Tokens`.
"""

from workbench.tracking.app import create_app
from workbench.tracking.machine import machine_click, machine_open
from workbench.tracking.spool import Spool, SpoolTail
from workbench.tracking.tokens import BadToken, Ref, Tokens, tracking_keys

__all__ = ["BadToken", "Ref", "Spool", "SpoolTail", "Tokens", "create_app", "machine_click", "machine_open",
           "tracking_keys"]
