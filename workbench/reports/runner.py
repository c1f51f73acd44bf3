"""Run a notebook with Papermill into ``reports/<date>/<name>.ipynb`` and a standalone HTML.

The HTML is JupyterLab's export with nothing fetched from a network (see
``templates/workbench_offline``): Plotly figures carry plotly.js inline, once, so the report
opens from a mail attachment or a file share with its charts working. Every run, failed or
not, is appended to ``reports/runs.jsonl`` and listed in ``reports/index.html``.
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from workbench.config import Settings
from workbench.errors import WorkbenchError

#: parameter names through which a notebook receives the store's path
DB_PARAMETERS = ("db", "db_path")

__all__ = ["DB_PARAMETERS", "ReportError", "ReportRun", "find_notebook", "notebook_parameters", "run_notebook"]


class ReportError(WorkbenchError):
    """A report could not be produced: an unknown notebook or parameter, or a failing cell.

    Attributes
    ----------
    cell:
        The failing cell's number in the source notebook (from 1), or ``None``.
    run:
        The recorded run, when the notebook started.
    """

    def __init__(self, message: str, *, cell: int | None = None, run: ReportRun | None = None) -> None:
        self.cell = cell
        self.run = run
        super().__init__(message)


@dataclass
class ReportRun:
    """One execution of a notebook, as recorded in ``reports/runs.jsonl``."""

    notebook: str
    name: str
    started: str
    seconds: float
    status: str  # ok | failed
    parameters: dict[str, Any] = field(default_factory=dict)
    ipynb: str = ""
    html: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_notebook(notebook: str | Path, settings: Settings) -> Path:
    """A notebook by path, or by name in ``notebooks/``: ``02_reputation``, ``reputation``.

    Raises
    ------
    ReportError
        No notebook, or several, match.
    """
    path = Path(notebook)
    if path.suffix == ".ipynb" and path.is_file():
        return path.resolve()
    folder = settings.root / "notebooks"
    candidates = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    stem = path.name.removesuffix(".ipynb")
    exact = [c for c in candidates if c.stem == stem]
    matches = exact or [c for c in candidates if stem in c.stem]
    if len(matches) == 1:
        return matches[0].resolve()
    names = ", ".join(c.stem for c in candidates) or f"none in {folder}"
    if not matches:
        raise ReportError(f"no notebook {str(notebook)!r}; available: {names}")
    raise ReportError(f"{str(notebook)!r} matches several notebooks: {', '.join(m.stem for m in matches)}")


def notebook_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """The parameters a notebook declares (its ``parameters``-tagged cell), as Papermill
    sees them: name → ``{"inferred_type_name", "default", "help"}``.

    Raises
    ------
    ReportError
        The notebook cannot be read.
    """
    import papermill

    try:
        return dict(papermill.inspect_notebook(str(path)))
    except Exception as exc:  # papermill raises bare exceptions for unreadable notebooks
        raise ReportError(f"cannot read the parameters of {path}: {exc}") from exc


def coerce(value: Any, type_name: str) -> Any:
    """A ``-p name value`` string turned into the type the notebook declared. Pure.

    Raises
    ------
    ReportError
        The value does not fit the declared type.
    """
    if not isinstance(value, str) or type_name in ("str", "None", "", "unknown"):
        return value
    try:
        if type_name == "int":
            return int(value)
        if type_name == "float":
            return float(value)
        if type_name == "bool":
            lowered = value.strip().lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError(value)
        if type_name in ("list", "dict", "tuple"):
            parsed = ast.literal_eval(value)
            if type(parsed).__name__ != type_name:
                raise ValueError(value)
            return parsed
    except (ValueError, SyntaxError) as exc:
        raise ReportError(f"{value!r} is not a {type_name}") from exc
    return value


def declared_type(parameter: Mapping[str, Any]) -> str:
    """The type name of a parameter: its annotation, else the type of its default literal. Pure."""
    name = str(parameter.get("inferred_type_name") or "None")
    if name not in ("None", ""):
        return name
    try:
        return type(ast.literal_eval(str(parameter.get("default")))).__name__
    except (ValueError, SyntaxError):
        return "str"


def _record(reports: Path, run: ReportRun) -> None:
    from workbench.reports.index import write_index

    reports.mkdir(parents=True, exist_ok=True)
    with (reports / "runs.jsonl").open("a", encoding="utf-8") as log:
        log.write(json.dumps(run.as_dict(), default=str) + "\n")
    write_index(reports)


def _failure(exc: Exception, executed: Path) -> tuple[str, int | None]:
    """The message naming the failing cell: its number in the source notebook (from 1,
    the injected-parameters cell not counted) and its first line."""
    from papermill.exceptions import PapermillExecutionError

    if not isinstance(exc, PapermillExecutionError):
        return f"{type(exc).__name__}: {exc}", None
    number, first_line = exc.cell_index + 1, ""
    try:
        import nbformat

        cells = nbformat.read(executed, as_version=4).cells  # type: ignore[no-untyped-call]
        failed = next(i for i, c in enumerate(cells) if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
        added = ("injected-parameters", "papermill-error-cell-tag")
        injected = sum(any(t in c.metadata.get("tags", []) for t in added) for c in cells[:failed])
        number = failed - injected + 1
        first_line = next((line for line in cells[failed].source.splitlines() if line.strip()), "")
    except Exception:  # the message must not fail on an unreadable partial notebook
        pass
    where = f"cell {number}" + (f" ({first_line.strip()[:80]!r})" if first_line else "")
    return f"{where} raised {exc.ename}: {exc.evalue}", number


def run_notebook(
    notebook: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    settings: Settings | None = None,
    out: str | Path | None = None,
    day: date | None = None,
    kernel_name: str | None = None,
    html: bool = True,
    timeout: float | None = None,
) -> ReportRun:
    """Execute ``notebook`` with ``parameters`` into ``<out>/<day>/<name>.ipynb`` (+ ``.html``).

    Parameters
    ----------
    notebook:
        A path, or a name in ``notebooks/`` (``01_deliverability_overview``, ``overview``).
    parameters:
        Values for the notebook's parameters; strings are converted to the declared type.
        ``db`` (or ``db_path``) defaults to ``settings.db_path`` when the notebook declares it.
    settings:
        Paths (default ``Settings.load()``).
    out:
        The reports folder (default ``settings.reports_dir``).
    day:
        The run's folder name (default today, UTC).
    kernel_name:
        The Jupyter kernel (default: the notebook's, ``python3``).
    html:
        Also write the standalone HTML.
    timeout:
        Seconds a cell may run (default: no limit).

    Returns
    -------
    ReportRun
        What was run and where it was written (also appended to ``runs.jsonl``).

    Raises
    ------
    ReportError
        Unknown notebook or parameter, a value of the wrong type, or a cell that failed
        (the message names the cell; the partial notebook is kept and the run recorded).
    """
    import papermill

    settings = settings or Settings.load()
    path = find_notebook(notebook, settings)
    declared = notebook_parameters(path)
    given = dict(parameters or {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ReportError(f"{path.name} has no parameter {', '.join(unknown)}; it declares: {', '.join(declared) or 'none'}")
    values = {k: coerce(v, declared_type(declared[k])) for k, v in given.items()}
    for name in DB_PARAMETERS:  # the store the caller means, unless the caller says otherwise
        if name in declared and name not in values:
            values[name] = str(Path(settings.db_path).resolve())
    reports = Path(out or settings.reports_dir).resolve()
    folder = reports / (day or datetime.now(UTC).date()).isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{path.stem}.ipynb"
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    run = ReportRun(notebook=str(path), name=path.stem, started=started.isoformat(timespec="seconds"), seconds=0.0,
                    status="ok", parameters=values, ipynb=str(target.relative_to(reports)))
    try:
        papermill.execute_notebook(
            str(path), str(target), parameters=values, kernel_name=kernel_name, progress_bar=False,
            cwd=str(path.parent), execution_timeout=timeout, report_mode=False,
            # the kernel's own start-up and shut-down chatter is not the report's business
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
        if html:
            from workbench.reports.html import export_html

            page = export_html(target, title=f"{path.stem} — {started:%Y-%m-%d %H:%M} UTC")
            run.html = str(page.relative_to(reports))
    except Exception as exc:
        message, cell = _failure(exc, target)
        run.status, run.error, run.seconds = "failed", message, round(time.perf_counter() - t0, 2)
        _record(reports, run)
        raise ReportError(f"{path.name} failed: {message}. The executed notebook, with the error, is {target}",
                          cell=cell, run=run) from exc
    run.seconds = round(time.perf_counter() - t0, 2)
    _record(reports, run)
    return run
