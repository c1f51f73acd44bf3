"""CLI command groups by area (``workbench kpi``, ``workbench report``, ...): one module per
area, each registered in :mod:`workbench.cli` with one ``cli.add_command`` line."""
