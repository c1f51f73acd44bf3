"""Exceptions raised by the workbench.

The tree::

    WorkbenchError
    ├── InputError                 bad input: recorded in ``quarantine``, the batch goes on
    │   ├── ParseError(source, position)
    │   ├── UnsafeInput            bombs, entity expansion, oversized input
    │   └── UnknownFormat          no parser recognised the file
    ├── StoreError                 the DuckDB store cannot be opened, migrated or written
    │   └── StoreBusy              another process held the write lock past the timeout
    ├── AuthAuditError             an authentication audit could not run
    ├── SendError(recipient, smtp_code)
    └── ConfigError                a setting is missing or wrong

Every message says what to do next.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


class InputError(WorkbenchError):
    """Input that cannot be read; the file and the place are in the message.

    Parameters
    ----------
    source:
        The file (or other source) the bad input came from.
    position:
        Where in the source: ``"line 12"``, ``"byte 4096"``, ``"member a.xml"``.
    reason:
        What is wrong, in a sentence.
    excerpt:
        A short excerpt of the raw input, for the quarantine table.
    """

    def __init__(
        self, source: str, position: str | None, reason: str, excerpt: str | None = None
    ) -> None:
        self.source = source
        self.position = position
        self.reason = reason
        self.excerpt = excerpt
        where = f"{source}, {position}" if position else source
        super().__init__(f"{where}: {reason}")


class ParseError(InputError):
    """A record or a whole file does not follow its format."""


class UnsafeInput(InputError):
    """Input refused for safety: a decompression bomb, an XML entity, an oversized file."""


class UnknownFormat(InputError):
    """No parser recognised the file; pass ``--format`` to name one."""


class StoreError(WorkbenchError):
    """The store cannot be opened, migrated, queried or written."""


class StoreBusy(StoreError):
    """Another process held the database lock for longer than the configured timeout."""


class AuthAuditError(WorkbenchError):
    """An authentication audit could not run (not a finding: a failure to check)."""


class SendError(WorkbenchError):
    """A message could not be sent.

    Parameters
    ----------
    recipient:
        The envelope recipient.
    smtp_code:
        The SMTP reply code, when the server gave one.
    """

    def __init__(self, recipient: str, smtp_code: int | None, message: str) -> None:
        self.recipient = recipient
        self.smtp_code = smtp_code
        super().__init__(f"{recipient}: {smtp_code or '-'} {message}")


class ConfigError(WorkbenchError):
    """A setting is missing or has a wrong value."""
