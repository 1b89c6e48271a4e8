"""Labelled image datasets: Fashion-MNIST/MNIST IDX, CIFAR-10 (python or binary), image folders,
and the small real subset shipped in ``calibration/``.

Every loader returns an :class:`ImageSet` of uint8 NHWC images; :func:`to_model_input`
turns them into the float tensor the model (and the int8 representative dataset) sees.
"""

from tinyee.data.datasets import (
    FASHION_MNIST_DIR,
    SHIPPED_SUBSET,
    ImageSet,
    load_dataset,
    load_split,
    load_shipped,
    make_subset,
    to_model_input,
)

__all__ = [
    "FASHION_MNIST_DIR", "SHIPPED_SUBSET", "ImageSet", "load_dataset", "load_split", "load_shipped", "make_subset", "to_model_input",
]
