"""What a notebook calls first: figures that render offline in exported HTML, readable tables.

Plotly under Papermill defaults to the ``plotly_mimetype`` renderer, which nbconvert's HTML
export drops; ``plotly_mimetype+workbench_notebook`` also embeds plotly.js once in the
notebook (Plotly's ``notebook`` renderer), so the HTML report draws its charts with no
network access. Plotly's ``notebook`` renderer also adds a MathJax ``<script>`` from a CDN to
every figure (a failed request, offline); ``workbench_notebook`` leaves it out (the figures
use no LaTeX).
"""

from __future__ import annotations

import re
from typing import Any

import plotly.io as pio
import polars as pl
from plotly.io._base_renderers import NotebookRenderer

#: the MathJax loader Plotly puts before each figure's HTML
_MATHJAX_CDN = re.compile(r'<script src="https://cdn[^"]*mathjax[^"]*"></script>', re.IGNORECASE)


class OfflineNotebookRenderer(NotebookRenderer):  # type: ignore[misc]
    """Plotly's ``notebook`` renderer (plotly.js inline, once) without the MathJax CDN tag."""

    def to_mimebundle(self, fig_dict: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = super().to_mimebundle(fig_dict)
        if "text/html" in bundle:
            bundle["text/html"] = _MATHJAX_CDN.sub("", bundle["text/html"])
        return bundle


def setup() -> None:
    """Configure Plotly and polars for a notebook (idempotent)."""
    if "workbench_notebook" not in pio.renderers:
        pio.renderers["workbench_notebook"] = OfflineNotebookRenderer()
    pio.renderers.default = "plotly_mimetype+workbench_notebook"
    pio.templates.default = "plotly_white"
    pl.Config.set_tbl_rows(30)
    pl.Config.set_tbl_cols(20)
    pl.Config.set_fmt_str_lengths(60)
