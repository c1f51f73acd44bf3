"""Reports: notebooks executed by Papermill into ``reports/<date>/``, standalone offline HTML,
and ``reports/index.html`` listing every run.

>>> from workbench.reports import run_notebook          # doctest: +SKIP
>>> run_notebook("01_deliverability_overview", {"days": 7})  # doctest: +SKIP
"""

from workbench.reports.html import export_html
from workbench.reports.index import list_runs, write_index
from workbench.reports.runner import (
    ReportError,
    ReportRun,
    find_notebook,
    notebook_parameters,
    run_notebook,
)

__all__ = [
    "ReportError",
    "ReportRun",
    "export_html",
    "find_notebook",
    "list_runs",
    "notebook_parameters",
    "run_notebook",
    "write_index",
]
