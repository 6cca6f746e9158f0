"""Prefect flows and the command line: they wire the steps in tasks/ together."""

import os

# Prefect's server tries to send telemetry, which fails offline; newslake runs often are.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
