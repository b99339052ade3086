"""The IDX format of MNIST's files, written: for tests, benchmarks and users' own digit files.

Reading is torchvision's (``read_image_file``, ``read_label_file``); this is its inverse.
"""

from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """Writes a uint8 array in the IDX format that MNIST's files use (big-endian header)."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes()
    Path(path).write_bytes(header + array.astype(np.uint8).tobytes())
