"""The deliverability workbench: send logs, bounces, complaints and DMARC reports in DuckDB;
KPIs, reputation, audits, sends and reports."""

from workbench.config import Settings
from workbench.store import Store

__version__ = "0.1.0"

__all__ = ["Settings", "Store", "__version__"]
