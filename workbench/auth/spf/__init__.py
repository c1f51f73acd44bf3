"""SPF (RFC 7208): parse records, evaluate ``check_host``, lint a domain's published policy.

>>> from workbench.auth.spf import check_host, parse_record
"""

from workbench.auth.spf.check import SpfResult, check_host, check_host_async, evaluate
from workbench.auth.spf.record import Mechanism, Modifier, SpfRecord, SpfSyntaxError, parse_record

__all__ = [
    "Mechanism",
    "Modifier",
    "SpfRecord",
    "SpfResult",
    "SpfSyntaxError",
    "check_host",
    "check_host_async",
    "evaluate",
    "parse_record",
]
