"""Labelled input sets read from files: N-MNIST recordings and MNIST IDX images."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from spikex_sim.component import Param
from spikex_sim.errors import ConfigError
from spikex_sim.system import Dataset
from spikex_sim.workload.events import read_label_file, read_nmnist


class NMNISTRecordings(Dataset):
    type_name = "NMNISTRecordings"
    summary = "N-MNIST .bs2 recordings in a folder, labelled by a '#sample #class' file."
    path = Param(str, "../data/nmnist/test", "folder of <sample>.bs2 files, relative to the config file")
    labels = Param(str, "../data/nmnist/test100.txt", "label file, relative to the config file")

    def load(self, base_dir: Path, limit: int | None) -> list[tuple[str, object, int]]:
        """Return (name, events, label) for the labelled samples in label-file order."""
        folder = (base_dir / self.path).resolve()
        labels = read_label_file((base_dir / self.labels).resolve())
        if not folder.is_dir():
            raise ConfigError("recording folder not found; check workload.dataset.path", source=str(folder))
        numbers = list(labels)
        if limit is not None:
            numbers = numbers[:limit]
        samples = []
        for number in numbers:
            file = folder / f"{number}.bs2"
            samples.append((file.name, read_nmnist(file), labels[number]))
        if not samples:
            raise ConfigError("no labelled samples to run", source=str((base_dir / self.labels).resolve()))
        return samples


def read_idx(path: Path) -> np.ndarray:
    """Read a gzip-compressed MNIST IDX file (magic 2051 images or 2049 labels)."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError("IDX file not found; check the path", source=str(path)) from None
    except (OSError, EOFError) as error:
        raise ConfigError(f"cannot decompress IDX file ({error})", source=str(path)) from None
    magic = int.from_bytes(raw[:4], "big")
    if magic == 2051:
        count, rows, cols = (int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(3))
        data = np.frombuffer(raw, dtype=np.uint8, offset=16)
        shape = (count, rows, cols)
    elif magic == 2049:
        count = int.from_bytes(raw[4:8], "big")
        data = np.frombuffer(raw, dtype=np.uint8, offset=8)
        shape = (count,)
    else:
        raise ConfigError(f"not an MNIST IDX file (magic number {magic})", source=str(path))
    if data.size != int(np.prod(shape)):
        raise ConfigError(f"truncated IDX file: {data.size} values for shape {list(shape)}", source=str(path))
    return data.reshape(shape)


class MNISTImages(Dataset):
    type_name = "MNISTImages"
    summary = "MNIST images from gzip IDX files, scaled to [0, 1], for rate or latency encoders."
    images = Param(str, "../data/mnist/t10k-images-idx3-ubyte.gz", "IDX image file, relative to the config file")
    labels = Param(str, "../data/mnist/t10k-labels-idx1-ubyte.gz", "IDX label file, relative to the config file")

    def load(self, base_dir: Path, limit: int | None) -> list[tuple[str, object, int]]:
        images = read_idx((base_dir / self.images).resolve())
        labels = read_idx((base_dir / self.labels).resolve())
        count = len(images) if limit is None else min(limit, len(images))
        return [(f"image{index}", images[index].astype(np.float64) / 255.0, int(labels[index])) for index in range(count)]
