"""The standalone HTML of an executed notebook: JupyterLab's look, no network needed.

nbconvert's ``lab`` template loads require.js and MathJax from a CDN; the packaged
``workbench_offline`` template leaves them out. Plotly figures (rendered by
:func:`workbench.notebook.setup` with the ``notebook`` renderer) carry plotly.js inline in
the first figure's output and draw from it, so the page works offline with charts that
zoom, pan and hover.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["TEMPLATE", "export_html", "plotly_bundles"]

TEMPLATE = "workbench_offline"
#: a string found once in each copy of the inlined plotly.js bundle
PLOTLY_SIGNATURE = "plotly.js v"


def _templates() -> str:
    return str(resources.files("workbench.reports").joinpath("templates"))


def export_html(notebook: Path, *, title: str | None = None, target: Path | None = None) -> Path:
    """Write ``notebook`` as a standalone HTML page (default: beside it, ``.html``).

    Code cells are kept (the report shows how each number was obtained), input prompts
    are hidden.

    Raises
    ------
    FileNotFoundError
        The notebook does not exist.
    nbformat.ValidationError
        The file is not a valid notebook.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]
    if title:
        nb.metadata["title"] = title
    exporter = HTMLExporter(template_name=TEMPLATE, extra_template_basedirs=[_templates()])  # type: ignore[no-untyped-call]
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb)
    target = target or notebook.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


def plotly_bundles(page: str) -> int:
    """How many copies of plotly.js a page embeds (a report should hold exactly one)."""
    return page.count(PLOTLY_SIGNATURE)
