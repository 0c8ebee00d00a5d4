"""Load the configured data source into a validated data set."""

from __future__ import annotations

from service.dataset import DataSet, load_dir
from service.settings import Settings


def load_dataset(settings: Settings) -> DataSet:
    """Read and validate the data set named by the settings (raises DataSetError)."""
    if settings.demo:
        from service.demo import demo_dataset

        return demo_dataset(settings.demo_members)
    if settings.data:
        return load_dir(settings.data)
    raise ValueError("no data source: give --data DIR or --demo (the database arrives later)")
