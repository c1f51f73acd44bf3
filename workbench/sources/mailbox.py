"""Mail readers shared by every mail-borne source (DMARC, TLS-RPT, bounces, complaints).

Generic on purpose: nothing here knows about reports. A reader yields messages as bytes
(:class:`MailItem`, with where each came from); :func:`iter_parts` yields the leaf parts of
one message with their payloads decoded (base64, quoted-printable, 7/8-bit, any charset
left as bytes), bounded in number and size. Parsers take it from there.

- :func:`iter_messages`: every message under a path, whatever it is: ``.eml`` files (one
  message, an mbox ``From `` line tolerated), mbox files (streamed, mboxrd ``>From``
  unquoted), Maildir folders, folders of those, gzip / zstd compressed or not; a message
  larger than ``max_bytes`` comes out with ``error`` set and no data;
- an IMAP folder (:class:`ImapFolder`): fetch every message (or, with
  :meth:`ImapFolder.messages`, those above a UID, in batches), then optionally move each
  processed one to an archive folder (``MOVE`` where the server has it, else copy, flag
  ``\\Deleted`` and expunge); :func:`fetch_to_maildir` copies a folder's new messages to a
  local Maildir, read-only on the server.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import imaplib
import json
import mailbox as std_mailbox
import quopri
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from workbench.errors import InputError, UnsafeInput
from workbench.sources.reader import open_stream

#: largest message read (bytes)
MAX_MESSAGE = 64 << 20
#: leaf parts of one message yielded at most
MAX_PARTS = 200
#: largest decoded part (bytes)
MAX_PART = 64 << 20
_HEADER = re.compile(rb"^[A-Za-z0-9-]{1,76}:[ \t]?", re.MULTILINE)


@dataclass(frozen=True)
class MailItem:
    """One message: its bytes and where it came from (``file``, ``file#3``, ``imap://…;UID=7``).

    ``uid`` is the message's stable key in its mailbox where it has one (Maildir unique name,
    IMAP UID); ``error`` says why ``data`` is empty (the message was larger than the bound).
    """

    position: str
    data: bytes
    uid: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Part:
    """A leaf part of a message: its MIME type, file name and decoded payload."""

    index: int
    content_type: str
    filename: str | None
    payload: bytes
    charset: str | None = None

    @property
    def text(self) -> str:
        """The payload as text in its declared charset (undecodable bytes replaced)."""
        try:
            return self.payload.decode(self.charset or "utf-8", "replace")
        except LookupError:
            return self.payload.decode("utf-8", "replace")


def looks_like_message(head: bytes) -> bool:
    """Whether ``head`` starts like an RFC 5322 message (or an mbox of them)."""
    if head.startswith(b"From "):
        head = head.split(b"\n", 1)[-1]
    lines = head.lstrip(b"\r\n").split(b"\n", 8)[:8]
    headers = sum(1 for line in lines if _HEADER.match(line) or line[:1] in (b" ", b"\t"))
    return len(lines) >= 2 and headers >= min(len(lines), 3) and bool(_HEADER.match(lines[0]))


def is_mbox(head: bytes) -> bool:
    """An mbox holds one or more messages each introduced by a ``From `` line."""
    return head.startswith(b"From ") and looks_like_message(head)


def parse_message(data: bytes) -> Message:
    """A message object from bytes (lenient: the compat32 policy reads broken mail too).

    Raises
    ------
    UnsafeInput
        The message is larger than :data:`MAX_MESSAGE`.
    """
    if len(data) > MAX_MESSAGE:
        raise UnsafeInput("<message>", None, f"message of {len(data)} bytes; at most {MAX_MESSAGE} are read")
    if data.startswith(b"From "):
        data = data.split(b"\n", 1)[-1]
    return email.message_from_bytes(data, policy=email.policy.compat32)


def part_bytes(part: Message) -> bytes:
    """The decoded payload of one part; for a ``message/*`` part, the enclosed message."""
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if part.get_content_maintype() == "message" or part.is_multipart():
        inner = part.get_payload()
        if isinstance(inner, list):
            raw = b"".join(m.as_bytes() if isinstance(m, Message) else str(m).encode() for m in inner)
            if cte in ("base64", "quoted-printable"):  # the parser took encoded text for a message
                return _decode(raw.lstrip(b"\r\n"), cte)
            return raw
        return _decode(str(inner).encode("utf-8", "surrogateescape"), cte)
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    return str(part.get_payload()).encode("utf-8", "surrogateescape")


def _decode(raw: bytes, cte: str) -> bytes:
    if cte == "base64":
        try:
            return base64.b64decode(raw + b"===", validate=False)
        except (binascii.Error, ValueError):
            return raw
    if cte == "quoted-printable":
        return quopri.decodestring(raw)
    return raw


def iter_parts(msg: Message, *, max_parts: int = MAX_PARTS, max_bytes: int = MAX_PART) -> Iterator[Part]:
    """Every leaf part of ``msg`` (``message/*`` parts are leaves: not opened), decoded.

    Raises
    ------
    UnsafeInput
        More than ``max_parts`` parts, or a part decoding to more than ``max_bytes``.
    """
    count = 0
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop(0)
        if part.is_multipart() and part.get_content_maintype() != "message":
            payload = part.get_payload()
            stack[:0] = [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []
            continue
        count += 1
        if count > max_parts:
            raise UnsafeInput("<message>", f"part {count}", f"more than {max_parts} MIME parts; refused")
        data = part_bytes(part)
        if len(data) > max_bytes:
            raise UnsafeInput("<message>", f"part {count}", f"a part decodes to {len(data)} bytes; at most {max_bytes}")
        filename = part.get_filename() or part.get_param("name")
        yield Part(count, part.get_content_type(), str(filename) if filename else None, data, part.get_content_charset())


_FROM_LINE = re.compile(rb"^From \S*.*$")
_MBOXRD = re.compile(rb"^>(>*From )")


def iter_mbox(path: Path, *, max_bytes: int = MAX_MESSAGE) -> Iterator[MailItem]:
    """The messages of an mbox file, in order (positions ``file#1``, ``file#2``, …), streamed
    (gzip / zstd read as they are), mboxrd ``>From `` quoting undone. A message starts at a
    ``From `` line at the start of the file or after an empty line.

    Raises
    ------
    InputError
        The file cannot be read.
    UnsafeInput
        A compressed file expands past its bound.
    """
    number = 0
    parts: list[bytes] = []
    size = 0
    too_big = False
    previous_blank = True

    def emit() -> MailItem:
        body = b"".join(parts)
        if body.endswith(b"\n\n"):
            body = body[:-1]  # the separator line belongs to the mbox, not the message
        if too_big:
            return MailItem(f"{path}#{number}", b"", None, f"message larger than {max_bytes} bytes; skipped")
        return MailItem(f"{path}#{number}", body)

    try:
        with open_stream(path) as stream:
            for line in stream:
                if line.startswith(b"From ") and previous_blank and _FROM_LINE.match(line.rstrip(b"\r\n")):
                    if number:
                        yield emit()
                    number += 1
                    parts, size, too_big = [], 0, False
                    previous_blank = False
                    continue
                previous_blank = line in (b"\n", b"\r\n")
                if not number:
                    continue  # preamble before the first From line
                if line.startswith(b">") and _MBOXRD.match(line):
                    line = line[1:]
                size += len(line)
                if size > max_bytes:
                    too_big, parts = True, []
                elif not too_big:
                    parts.append(line)
    except OSError as exc:
        raise InputError(str(path), None, f"not a readable mbox ({exc})") from exc
    if number:
        yield emit()


def iter_eml(path: Path, *, max_bytes: int = MAX_MESSAGE) -> Iterator[MailItem]:
    """The single message in ``path`` (a leading mbox ``From `` line dropped; gzip / zstd
    read as they are).

    Raises
    ------
    UnsafeInput
        A compressed file expands past its bound.
    """
    with open_stream(path) as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        yield MailItem(str(path), b"", None, f"message larger than {max_bytes} bytes; skipped")
        return
    if data.startswith(b"From ") and b"\n" in data:
        first, rest = data.split(b"\n", 1)
        if _FROM_LINE.match(first.rstrip(b"\r")) and looks_like_message(rest):
            data = rest
    yield MailItem(str(path), data)


def iter_messages(path: str | Path, *, max_bytes: int = MAX_MESSAGE) -> Iterator[MailItem]:
    """Every message under ``path``: a Maildir, a folder (recursively, hidden files and
    folders skipped, in name order), an mbox file or a single message file.

    Raises
    ------
    InputError
        ``path`` does not exist.
    UnsafeInput
        A compressed file expands past its bound.
    """
    path = Path(path)
    if is_maildir(path):
        yield from iter_maildir(path)
    elif path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and not any(p.startswith(".") for p in child.relative_to(path).parts):
                yield from iter_messages(child, max_bytes=max_bytes)
    elif path.is_file():
        with open_stream(path) as stream:
            head = stream.read(4096)
        yield from (iter_mbox(path, max_bytes=max_bytes) if is_mbox(head) else iter_eml(path, max_bytes=max_bytes))
    else:
        raise InputError(str(path), None, "no such file or folder")


def iter_maildir(path: Path) -> Iterator[MailItem]:
    """The messages of a Maildir folder (``cur`` and ``new``), sorted by file name.

    Raises
    ------
    InputError
        ``path`` is not a Maildir (no ``cur``/``new``).
    """
    if not (path / "cur").is_dir() and not (path / "new").is_dir():
        raise InputError(str(path), None, "not a Maildir folder (no cur/ or new/)")
    box = std_mailbox.Maildir(str(path), factory=None, create=False)
    for key in sorted(box.iterkeys()):
        yield MailItem(f"{path}/{key}", box.get_bytes(key), key)


def is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


class ImapFolder:
    """One IMAP folder: fetch its messages, move processed ones to an archive folder.

    Parameters
    ----------
    host, port:
        The server; ``security`` is ``"ssl"`` (IMAPS, default port 993), ``"starttls"`` or
        ``"plain"`` (only for a server on this machine or in tests).
    user, password:
        Credentials (LOGIN).
    folder:
        The folder to read (default ``INBOX``).
    archive:
        Where :meth:`archive` moves processed messages (created when missing), or ``None``.
    """

    def __init__(self, host: str, user: str, password: str, *, port: int | None = None, folder: str = "INBOX",
                 archive: str | None = None, security: str = "ssl", timeout: float = 60.0) -> None:
        self.host, self.user, self.folder, self.archive_folder = host, user, folder, archive
        self.port = port or (993 if security == "ssl" else 143)
        self.security = security
        self._password = password
        self._timeout = timeout
        self._imap: imaplib.IMAP4 | None = None
        #: the folder's UIDVALIDITY (set by :meth:`open`): UIDs are only comparable under one
        self.uidvalidity: str | None = None

    def __repr__(self) -> str:
        return f"ImapFolder({self.user}@{self.host}:{self.port}/{self.folder})"

    @property
    def url(self) -> str:
        return f"imap://{self.user}@{self.host}:{self.port}/{self.folder}"

    def __enter__(self) -> ImapFolder:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect, log in and select the folder.

        Raises
        ------
        InputError
            The server refused the connection, the login or the folder.
        """
        try:
            if self.security == "ssl":
                imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=ssl.create_default_context(), timeout=self._timeout)
            else:
                imap = imaplib.IMAP4(self.host, self.port, timeout=self._timeout)
                self._imap = imap  # closed on failure below, STARTTLS included
                if self.security == "starttls":
                    imap.starttls(ssl.create_default_context())
            self._imap = imap
            imap.login(self.user, self._password)
            status, caps = imap.capability()  # the list grows after login (MOVE, UIDPLUS, ...)
            if status == "OK" and caps and caps[-1]:
                imap.capabilities = tuple(caps[-1].decode().upper().split())
            status, detail = imap.select(_quote(self.folder))
            if status != "OK":
                raise InputError(self.url, None, f"cannot select folder {self.folder!r}: {detail!r}")
            _, values = imap.response("UIDVALIDITY")
            self.uidvalidity = values[0].decode() if values and values[0] else "0"
        except (OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise InputError(self.url, None, f"IMAP: {exc}; check host, port, --security and credentials") from exc
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Log out (safe to call twice)."""
        imap, self._imap = self._imap, None
        if imap is None:
            return
        try:
            if imap.state == "SELECTED":
                imap.close()
            imap.logout()
        except (OSError, imaplib.IMAP4.error):
            imap.shutdown()

    def _conn(self) -> imaplib.IMAP4:
        if self._imap is None:
            self.open()
        assert self._imap is not None
        return self._imap

    def uids(self) -> list[str]:
        """UIDs of every message in the folder, ascending."""
        status, data = self._conn().uid("SEARCH", "ALL")
        if status != "OK" or not data or not data[0]:
            return []
        return sorted(data[0].decode().split(), key=int)

    def fetch(self, uid: str) -> MailItem:
        """One message's bytes.

        Raises
        ------
        InputError
            The server did not return it.
        """
        status, data = self._conn().uid("FETCH", uid, "(BODY.PEEK[])")
        for item in data or []:
            if isinstance(item, tuple) and len(item) == 2:
                return MailItem(f"{self.url};UID={uid}", bytes(item[1]), uid)
        raise InputError(self.url, f"UID {uid}", f"FETCH returned no message ({status})")

    def __iter__(self) -> Iterator[MailItem]:
        for uid in self.uids():
            yield self.fetch(uid)

    def messages(self, *, since_uid: int = 0, limit: int | None = None, batch: int = 100,
                 max_bytes: int = MAX_MESSAGE) -> Iterator[MailItem]:
        """The messages with a UID above ``since_uid`` (at most ``limit``), oldest first,
        fetched ``batch`` at a time without marking them seen; a message larger than
        ``max_bytes`` comes with ``error`` set.

        Raises
        ------
        InputError
            The server failed a command.
        """
        imap = self._conn()
        uids = [u for u in map(int, self.uids()) if u > since_uid][:limit]
        for start in range(0, len(uids), batch):
            chunk = ",".join(map(str, uids[start:start + batch]))
            try:
                status, data = imap.uid("FETCH", chunk, "(BODY.PEEK[])")
            except imaplib.IMAP4.error as exc:
                raise InputError(self.url, f"UID {chunk}", f"FETCH failed: {exc}") from exc
            if status != "OK":
                raise InputError(self.url, f"UID {chunk}", f"FETCH failed ({status})")
            for entry in data or []:
                if not isinstance(entry, tuple) or len(entry) != 2:
                    continue
                found = re.search(rb"UID (\d+)", entry[0])
                if not found:
                    continue
                uid = found[1].decode()
                position = f"{self.url};UID={uid}"
                if len(entry[1]) > max_bytes:
                    yield MailItem(position, b"", uid, f"message larger than {max_bytes} bytes; skipped")
                else:
                    yield MailItem(position, bytes(entry[1]), uid)

    def archive(self, uid: str) -> None:
        """Move a processed message to the archive folder (no-op without one).

        Raises
        ------
        InputError
            The server refused the move.
        """
        if not self.archive_folder:
            return
        imap = self._conn()
        target = _quote(self.archive_folder)
        imap.create(target)  # fails harmlessly when it exists
        if "MOVE" in imap.capabilities:
            status, detail = imap.uid("MOVE", uid, target)
        else:
            status, detail = imap.uid("COPY", uid, target)
            if status == "OK":
                imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
                if "UIDPLUS" in imap.capabilities:
                    imap.uid("EXPUNGE", uid)
                else:
                    imap.expunge()
        if status != "OK":
            raise InputError(self.url, f"UID {uid}", f"cannot move to {self.archive_folder!r}: {detail!r}")


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fetch_to_maildir(box: ImapFolder, target: Path, *, limit: int | None = None) -> int:
    """Copy the folder's messages not fetched yet into the Maildir ``target``; how many.

    Files are named ``<uidvalidity>.<uid>.imap`` (in ``new/``), so fetching twice writes
    each message once; ``.imap-state`` remembers the last UID per server folder (and
    UIDVALIDITY, so a rebuilt folder is fetched again). The server is not changed.

    Raises
    ------
    InputError
        The server failed a command.
    """
    for sub in ("cur", "new", "tmp"):
        (target / sub).mkdir(parents=True, exist_ok=True)
    state_file = target / ".imap-state"
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    box._conn()
    slot = f"{box.url};UIDVALIDITY={box.uidvalidity}"
    last = int(state.get(slot, 0))
    written = 0
    for item in box.messages(since_uid=last, limit=limit):
        uid = int(item.uid or 0)
        name = f"{box.uidvalidity}.{uid}.imap"
        if item.data and not (target / "new" / name).exists() and not (target / "cur" / f"{name}:2,").exists():
            temp = target / "tmp" / name
            temp.write_bytes(item.data)
            temp.replace(target / "new" / name)
            written += 1
        last = max(last, uid)
        state[slot] = last
        state_file.write_text(json.dumps(state, indent=1))
    return written
