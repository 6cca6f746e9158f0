"""What newslake's local workers start with: the fork server they are forked from imports this
module once (see `flows.cluster`), so that no worker spends CPU of its own on it.

Each worker would otherwise import the steps, Dask's worker, datasketch and spaCy (0.4 s of CPU
or more each) and run the steps' worker setup, such as loading the language identifier's model
(0.5 s), before its first batch, on cores that the Prefect server's boot and the other worker
need at the same moment.
"""

import importlib

import datasketch  # noqa: F401
import distributed.nanny  # noqa: F401
import spacy  # noqa: F401

from newslake.flows.dask_cluster import STEPS

# What Dask's `preload` does in each worker, done here once for every fork.
for name in STEPS:
    if setup := getattr(importlib.import_module(name), "dask_setup", None):
        setup()
