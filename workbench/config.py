"""Settings: one frozen object, derived from the project root, the environment and ``.env``.

Paths default to the project layout (``data/``, ``reports/``); every one can be overridden
by an environment variable (``WORKBENCH_DB``, ``WORKBENCH_DATA``, ``WORKBENCH_REPORTS``) or
by passing a value. Code receives a :class:`Settings` as an argument and never reads a
module-level global.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from workbench.errors import ConfigError

ENV_PREFIX = "WORKBENCH_"


def project_root() -> Path:
    """The project root: ``$WORKBENCH_ROOT``, else the nearest parent holding ``pyproject.toml``
    (from the working directory, then from this file), else the working directory."""
    env = os.environ.get(f"{ENV_PREFIX}ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for candidate in (start, *start.parents):
            if (candidate / "pyproject.toml").is_file() and (candidate / "workbench").is_dir():
                return candidate
    return Path.cwd()


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


@dataclass(frozen=True)
class Settings:
    """Where things live and how long to wait for the database.

    Attributes
    ----------
    root:
        The project root.
    db_path:
        The DuckDB file (default ``data/workbench.duckdb``).
    data_dir, raw_dir, reports_dir:
        ``data/``, ``data/raw/`` (input as received) and ``reports/``.
    lock_timeout:
        Seconds to wait for another process's database lock before :class:`StoreBusy`.
    lock_hold:
        Seconds a loader keeps the write lock across several files before letting others in.
    memory_limit:
        DuckDB's memory limit for queries, e.g. ``"2GB"``.
    load_memory_limit:
        DuckDB's memory limit while files load (default ``"1600MB"``): loads stream within it,
        so that a loading process stays under 2 GiB whatever the size of its input.
    threads:
        DuckDB threads (``None``: one per core).
    """

    root: Path
    db_path: Path
    data_dir: Path
    raw_dir: Path
    reports_dir: Path
    lock_timeout: float = 120.0
    lock_hold: float = 3.0
    memory_limit: str = "2GB"
    load_memory_limit: str = "1600MB"
    threads: int | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def load(cls, root: Path | None = None, **overrides: object) -> Settings:
        """Build settings from defaults, then ``.env``, then the environment, then ``overrides``.

        Raises
        ------
        ConfigError
            When a numeric setting is not a number.
        """
        root = (root or project_root()).resolve()
        env = {**_read_dotenv(root / ".env"), **os.environ}

        def get(name: str) -> str | None:
            return env.get(f"{ENV_PREFIX}{name}")

        data_dir = Path(get("DATA") or root / "data")
        values: dict[str, object] = {
            "root": root,
            "data_dir": data_dir,
            "db_path": Path(get("DB") or data_dir / "workbench.duckdb"),
            "raw_dir": Path(get("RAW") or data_dir / "raw"),
            "reports_dir": Path(get("REPORTS") or root / "reports"),
            "memory_limit": get("MEMORY_LIMIT") or "2GB",
            "load_memory_limit": get("LOAD_MEMORY_LIMIT") or "1600MB",
        }
        try:
            if get("LOCK_TIMEOUT"):
                values["lock_timeout"] = float(get("LOCK_TIMEOUT") or 0)
            if get("LOCK_HOLD"):
                values["lock_hold"] = float(get("LOCK_HOLD") or 0)
            if get("THREADS"):
                values["threads"] = int(get("THREADS") or 0)
        except ValueError as exc:
            raise ConfigError(f"bad numeric setting in the environment: {exc}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("db_path", "data_dir", "raw_dir", "reports_dir"):
            values[key] = Path(str(values[key]))
        return cls(**values)  # type: ignore[arg-type]

    def with_db(self, db_path: str | Path | None) -> Settings:
        """A copy pointing at another database file (``None`` keeps this one)."""
        return self if db_path is None else replace(self, db_path=Path(db_path))
