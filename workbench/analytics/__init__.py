"""Analytics over the store: KPIs, reputation, the dedicated-or-shared advice.

Counts are SQL (``workbench/sql/``); rates, intervals and scores are the small pure
functions of :mod:`workbench.analytics.stats`.
"""

from workbench.analytics.advice import advise, stream_volumes, volume_profile
from workbench.analytics.dimensions import DIMENSIONS, Dimension, register_dimension, register_join
from workbench.analytics.kpis import COUNTS, RATES, Rate, add_rates, kpis
from workbench.analytics.overview import bounce_reasons, report_window, worst_campaigns
from workbench.analytics.reputation import (
    daily_reputation,
    deferral_spikes,
    flags,
    snapshot,
    spike_series,
)
from workbench.analytics.segments import Experiment, composition, experiment, segment_kpis
from workbench.analytics.stats import band, rate, reputation_score, wilson_interval

__all__ = [
    "COUNTS",
    "DIMENSIONS",
    "RATES",
    "Dimension",
    "Experiment",
    "Rate",
    "add_rates",
    "advise",
    "band",
    "bounce_reasons",
    "composition",
    "daily_reputation",
    "deferral_spikes",
    "experiment",
    "flags",
    "kpis",
    "rate",
    "register_dimension",
    "register_join",
    "report_window",
    "reputation_score",
    "segment_kpis",
    "snapshot",
    "spike_series",
    "stream_volumes",
    "volume_profile",
    "wilson_interval",
    "worst_campaigns",
]
