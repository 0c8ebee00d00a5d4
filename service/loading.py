"""Load the configured file source (CSV folder, demo or snapshot file) into a generation."""

from __future__ import annotations

import time

import core_ext
from core_ext._file import open_snapshot
from service.dataset import DataSet, load_dir
from service.settings import Settings
from service.state import Generation, generation_from


def load_dataset(settings: Settings) -> DataSet:
    """Read and validate the data set named by the settings (raises DataSetError)."""
    if settings.demo:
        from service.demo import demo_dataset

        return demo_dataset(settings.demo_members)
    if settings.data:
        return load_dir(settings.data)
    raise ValueError("no file source: give --data DIR, --demo or --snapshot FILE")


def generation_from_file(path: str) -> Generation:
    """Map a snapshot file (raises SnapshotFileError): nothing is copied, workers share the pages."""
    data, institutions = open_snapshot(path)
    return Generation(
        core=core_ext.Core(data),
        institutions=institutions,
        version=data.version,
        persons=data.persons,
        qualifications=data.qualifications,
        loaded_at=time.time(),
    )


def load_generation(settings: Settings) -> Generation:
    """The generation of a file source (raises DataSetError or SnapshotFileError)."""
    if settings.snapshot and not (settings.demo or settings.data):
        return generation_from_file(settings.snapshot)
    return generation_from(load_dataset(settings))
