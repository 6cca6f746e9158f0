"""What a command needs before any heavy import: the run parameters' defaults that its help
shows (declared here once, for `parameters` and `cli` alike) and the environment every command
runs in. `newslake sql` and a command's help thus import neither pydantic nor Prefect."""

DEFAULTS = {
    "lake": "data/lake",
    "inputs": ["data/sample"],
    "batch_size": 250,
    "languages": ["en"],
    "min_words": 20,
}

# Prefect's usage data off (its client would also print a notice in a terminal on first use;
# runs are often offline), set before Prefect is imported.
TELEMETRY_OFF = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
