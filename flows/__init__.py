"""Prefect flows and the command line: they wire the steps in tasks/ together."""

import os

# Prefect sends usage data from its server and from its client, which fails offline, where
# newslake often runs; the client also prints a notice about it in a terminal on first use.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
