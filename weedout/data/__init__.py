"""Datasets as whole tensors already on the device (datasets), the torchvision ones found,
fetched or explained (torchvision_sets). A plug-in adds a `DatasetInfo` to `DATASETS`."""
from .datasets import (DATASETS, MODELS, Dataset, DatasetInfo, check_model, ensure_available,
                       load_dataset, models_for)
from .torchvision_sets import DatasetUnavailableError

__all__ = ["DATASETS", "MODELS", "Dataset", "DatasetInfo", "DatasetUnavailableError",
           "check_model", "ensure_available", "load_dataset", "models_for"]
