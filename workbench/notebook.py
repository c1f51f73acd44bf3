"""What a notebook calls first: figures that render offline in exported HTML, readable tables.

Plotly under Papermill defaults to the ``plotly_mimetype`` renderer, which nbconvert's HTML
export drops; ``plotly_mimetype+notebook`` also embeds plotly.js once in the notebook, so the
HTML report draws its charts with no network access.
"""

from __future__ import annotations

import plotly.io as pio
import polars as pl


def setup() -> None:
    """Configure Plotly and polars for a notebook (idempotent)."""
    pio.renderers.default = "plotly_mimetype+notebook"
    pio.templates.default = "plotly_white"
    pl.Config.set_tbl_rows(30)
    pl.Config.set_tbl_cols(20)
    pl.Config.set_fmt_str_lengths(60)
