"""The configured file source as a generation: a data set loaded (CSV folder or demo) or a
snapshot file opened."""

from __future__ import annotations

from core_ext import open_snapshot
from service.dataset import DataSet, load_dir
from service.settings import Settings
from service.state import Generation, generation_of


def load_dataset(settings: Settings) -> DataSet:
    """Read and validate the data set named by the settings (raises DataSetError)."""
    if settings.demo:
        from service.demo import demo_dataset

        return demo_dataset(settings.demo_members)
    if settings.data:
        return load_dir(settings.data)
    raise ValueError("no file source: give --data DIR, --demo or --snapshot FILE")


def source_generation(settings: Settings) -> Generation:
    """The generation of a file source (raises DataSetError or SnapshotFileError); a snapshot
    file is mapped, not copied: workers share its pages."""
    if settings.snapshot and not (settings.demo or settings.data):
        return generation_of(*open_snapshot(settings.snapshot))
    dataset = load_dataset(settings)
    return generation_of(*dataset.build(), rate_limits=dataset.rate_limits)


def check_source(settings: Settings) -> None:
    """Validate the file source without building anything (raises DataSetError or SnapshotFileError).

    With several workers each builds or maps its own generation; the parent only
    makes sure an invalid source exits non-zero before any worker starts.
    """
    if settings.snapshot and not (settings.demo or settings.data):
        open_snapshot(settings.snapshot)
    else:
        load_dataset(settings)
