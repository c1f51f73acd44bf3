"""Bounded unpacking: gzip (several members, trailing bytes), zip (every member), bombs."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import pytest

from workbench.errors import InputError, UnsafeInput
from workbench.sources import archive
from workbench.sources.archive import gunzip_stream, iter_zip, kind_of, unpack

XML = b"<?xml version='1.0'?><feedback><report_metadata/></feedback>\n"


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buffer.getvalue()


def contents(data: bytes, name: str, **kw: int) -> list[tuple[str, bytes, list[str]]]:
    """Each payload read while it is current (a payload is valid until the next is drawn)."""
    return [(p.name, p.read(), p.warnings) for p in unpack(data, name, **kw)]


def test_kind_of() -> None:
    assert kind_of(gzip.compress(b"x")) == "gzip"
    assert kind_of(zip_bytes([("a", b"x")])) == "zip"
    assert kind_of(XML) is None


def test_plain_payload_passes_through() -> None:
    assert contents(XML, "a.xml") == [("a.xml", XML, [])]


def test_gzip_with_several_members_and_trailing_crlf() -> None:
    data = gzip.compress(XML[:20]) + gzip.compress(XML[20:])
    assert contents(data + b"\r\n", "r.xml.gz") == [("r.xml", XML, [])]  # a mailer's CRLF: nothing to say
    assert contents(data + b"junk", "r.xml.gz") == [("r.xml", XML, ["4 byte(s) after the end of the gzip data ignored"])]


def test_truncated_and_corrupt_gzip_are_input_errors() -> None:
    data = gzip.compress(XML * 50)
    with pytest.raises(InputError, match="truncated"):
        gunzip_stream(io.BytesIO(data[: len(data) // 2]), "t.gz")
    with pytest.raises(InputError, match="corrupt gzip"):
        gunzip_stream(io.BytesIO(data[:10] + b"\x00" * 40 + data[50:]), "c.gz")


def test_every_zip_member_and_gzip_inside_zip() -> None:
    data = zip_bytes([("a.xml", XML), ("dir/", b""), ("b.xml.gz", gzip.compress(XML.replace(b"feedback", b"feedback "))),
                      ("c.json", b"{}")])
    payloads = contents(data, "r.zip")
    assert [p[0] for p in payloads] == ["r.zip!a.xml", "r.zip!b.xml", "r.zip!c.json"]
    assert payloads[0][1] == XML and payloads[1][1].startswith(b"<?xml") and payloads[2][1] == b"{}"


def test_corrupt_zip_and_encrypted_member() -> None:
    with pytest.raises(InputError, match="not a readable zip"):
        list(iter_zip(io.BytesIO(b"PK\x03\x04garbage"), "bad.zip"))
    data = bytearray(zip_bytes([("a.xml", XML)]))
    data[6] |= 1  # local header flag: encrypted
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 8] |= 1  # central directory flag too
    with pytest.raises(InputError, match="encrypted"):
        list(iter_zip(io.BytesIO(bytes(data)), "enc.zip"))


def test_nesting_is_bounded() -> None:
    inner = gzip.compress(gzip.compress(gzip.compress(XML)))
    with pytest.raises(UnsafeInput, match="nested"):
        list(unpack(inner, "deep.gz"))


def test_limit_and_ratio_refuse_bombs(monkeypatch: pytest.MonkeyPatch) -> None:
    big = gzip.compress(b"\0" * (24 << 20))
    with pytest.raises(UnsafeInput, match="decompression bomb"):
        list(unpack(big, "bomb.gz"))
    with pytest.raises(UnsafeInput, match="expands past 1000 bytes"):
        list(unpack(gzip.compress(XML * 100), "small.gz", limit=1000))
    with pytest.raises(UnsafeInput, match="decompression bomb"):
        list(unpack(zip_bytes([("z.xml", b"\0" * (24 << 20))]), "bomb.zip"))
    # several members each under the limit, together over it (overlapping-member bombs)
    members = zip_bytes([(f"m{i}.xml", XML * 40) for i in range(5)])
    with pytest.raises(UnsafeInput, match="expands past"):
        list(unpack(members, "many.zip", limit=len(XML) * 40 * 3))
    monkeypatch.setattr(archive, "MAX_MEMBERS", 3)
    with pytest.raises(UnsafeInput, match="at most 3"):
        list(unpack(members, "many.zip"))


def test_spool_moves_to_disk_past_the_memory_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "SPOOL_IN_MEMORY", 1000)
    for payload in unpack(gzip.compress(XML * 200), "a.xml.gz"):
        assert payload.stream._rolled  # type: ignore[attr-defined]
        assert payload.read() == XML * 200


def _write_bomb(path: Path, kind: str, size: int) -> None:
    block = b"\0" * (1 << 20)
    if kind == "gzip":
        with gzip.open(path, "wb", compresslevel=9) as out:
            for _ in range(size >> 20):
                out.write(block)
    else:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("report.xml", "w", force_zip64=True) as out:
            for _ in range(size >> 20):
                out.write(block)


PEAK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from workbench.sources.dmarc.route import reports_in_payloads
    from workbench.errors import UnsafeInput

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024

    path = Path(sys.argv[1])
    if sys.argv[2] == "limit-only":  # no ratio check: the spool must still keep memory flat
        from workbench.sources import archive
        archive.MAX_RATIO, archive.MAX_PAYLOAD = 10**9, 256 << 20
    reports_in_payloads(b"", "warm-up")  # imports done, allocator warm
    base = status("VmRSS:")
    with path.open("rb") as handle:
        found = list(reports_in_payloads(handle, str(path)))
    assert len(found) == 1 and isinstance(found[0].error, UnsafeInput), found
    print(status("VmHWM:") - base, found[0].error.reason)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "mode"), [("gzip", "ratio"), ("zip", "ratio"), ("gzip", "limit-only")])
def test_a_512_mib_bomb_never_takes_64_mib(kind: str, mode: str, tmp_path: Path) -> None:
    bomb = tmp_path / f"bomb.{'xml.gz' if kind == 'gzip' else 'zip'}"
    _write_bomb(bomb, kind, 512 << 20)
    assert bomb.stat().st_size < 1 << 20
    run = subprocess.run([sys.executable, "-c", PEAK, str(bomb), mode], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    grown, reason = run.stdout.split(" ", 1)
    assert "decompression bomb" in reason
    assert ("expands past 268435456 bytes" in reason) == (mode == "limit-only")
    assert int(grown) < 64 << 20, f"peak RSS grew by {int(grown) >> 20} MiB"


def test_zlib_errors_inside_zip_members_are_input_errors() -> None:
    data = bytearray(zip_bytes([("a.xml", XML * 100)]))
    start = data.find(b"a.xml") + len("a.xml")
    for i in range(start + 5, start + 40):
        data[i] ^= 0x5A
    with pytest.raises((InputError, zlib.error)):
        list(iter_zip(io.BytesIO(bytes(data)), "broken.zip"))
