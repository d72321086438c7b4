"""Labelled input sets: N-MNIST recordings, event arrays, MNIST IDX images, and per-layer activity.

`RecordedActivity` and `SyntheticActivity` give every layer's spikes, not only the input;
they pair with the `ActivityReplay` encoder (formats in spikex_sim.workload.activity_io).
"""

from __future__ import annotations

import gzip
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from spikex_sim.component import Param
from spikex_sim.errors import ConfigError
from spikex_sim.paths import resolve_reference
from spikex_sim.safe_yaml import read_text
from spikex_sim.system import Dataset
from spikex_sim.workload.activity_io import read_activity_file, recorded_samples, synthetic_sample
from spikex_sim.workload.events import MAX_LABEL_FILE_BYTES, read_label_file, read_nmnist, to_event_array


class NMNISTRecordings(Dataset):
    type_name = "NMNISTRecordings"
    summary = "N-MNIST .bs2 recordings in a folder, labelled by a '#sample #class' file."
    path = Param(str, "../data/nmnist/test", "folder of <sample>.bs2 files, relative to the config file")
    labels = Param(str, "../data/nmnist/test100.txt", "label file, relative to the config file")

    def load(self, base_dir: Path, limit: int | None) -> list[tuple[str, object, int]]:
        """Return (name, events, label) for the labelled samples in label-file order."""
        folder = resolve_reference(base_dir, self.path, "workload.dataset.path")
        labels = read_label_file(resolve_reference(base_dir, self.labels, "workload.dataset.labels"))
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
            raise ConfigError("no labelled samples to run",
                              source=str(resolve_reference(base_dir, self.labels, "workload.dataset.labels")))
        return samples


def read_idx(path: Path) -> np.ndarray:
    """Read a gzip-compressed MNIST IDX file (magic 2051 images or 2049 labels)."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError("IDX file not found; check the path", source=str(path)) from None
    except (OSError, EOFError, zlib.error) as error:
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
        images = read_idx(resolve_reference(base_dir, self.images, "workload.dataset.images"))
        labels = read_idx(resolve_reference(base_dir, self.labels, "workload.dataset.labels"))
        if images.ndim != 3 or labels.ndim != 1:
            raise ConfigError("expected an IDX image file (magic 2051) as images and an IDX label file "
                              "(magic 2049) as labels; check the two paths", source=str((base_dir / self.images).resolve()))
        if len(labels) != len(images):
            raise ConfigError(f"{len(images)} images but {len(labels)} labels; the two files must belong together",
                              source=str((base_dir / self.labels).resolve()))
        count = len(images) if limit is None else min(limit, len(images))
        return [(f"image{index}", images[index].astype(np.float64) / 255.0, int(labels[index])) for index in range(count)]


class SklearnDigits(Dataset):
    type_name = "SklearnDigits"
    summary = "scikit-learn's 1,797 handwritten digits (8x8, intensities 0-16 scaled to [0, 1]); needs scikit-learn."

    def load(self, base_dir: Path, limit: int | None) -> list[tuple[str, object, int]]:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise ConfigError("SklearnDigits needs scikit-learn; install it with pip install scikit-learn",
                              key="workload.dataset.type") from None
        digits = load_digits()  # shipped inside the scikit-learn package, no download
        count = len(digits.images) if limit is None else min(limit, len(digits.images))
        return [(f"digit{index}", digits.images[index] / 16.0, int(digits.target[index])) for index in range(count)]


def read_name_labels(path: Path) -> dict[str, int]:
    """Read `<name> <class>` lines (`#` starts a comment line) into a dict."""
    if not path.exists():
        raise ConfigError("label file not found; check workload.dataset.labels", source=str(path))
    lines = read_text(path, "label file", max_bytes=MAX_LABEL_FILE_BYTES).splitlines()
    labels: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) != 2 or not re.fullmatch(r"-?[0-9]{1,18}", fields[1]):
            raise ConfigError(f"line {number} is not '<name> <class>': {line.strip()!r}", source=str(path))
        labels[fields[0]] = int(fields[1])
    return labels


class EventArrays(Dataset):
    type_name = "EventArrays"
    summary = "Event recordings as numpy structured arrays (fields x, y, t in us, p) in .npy or .npz files."
    path = Param(str, desc="a .npy file (one recording), an .npz file (one recording per array) or a folder of "
                           ".npy files, relative to the config file")
    labels = Param(str, None, "optional '<name> <class>' file; names are file stems or .npz keys (-1 without it)",
                   nullable=True)

    def load(self, base_dir: Path, limit: int | None) -> list[tuple[str, object, int]]:
        """Return (name, events, label) per recording, in name order."""
        target = resolve_reference(base_dir, self.path, "workload.dataset.path")
        labels = (read_name_labels(resolve_reference(base_dir, self.labels, "workload.dataset.labels"))
                  if self.labels else {})
        if target.is_dir():
            entries = [(file.stem, file) for file in sorted(target.glob("*.npy"))]
        elif target.suffix == ".npz" and target.is_file():
            entries = [(key, target) for key in self._archive_keys(target)]
        elif target.is_file():
            entries = [(target.stem, target)]
        else:
            raise ConfigError("event file or folder not found; check workload.dataset.path", source=str(target))
        if limit is not None:
            entries = entries[:limit]
        if not entries:
            raise ConfigError("no event recordings found (expected .npy files or .npz arrays)", source=str(target))
        return [(name, self._read(file, name), labels.get(name, -1)) for name, file in entries]

    @staticmethod
    def _archive_keys(path: Path) -> list[str]:
        try:
            with np.load(path, allow_pickle=False) as archive:
                return sorted(archive.files)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            raise ConfigError(f"cannot read .npz archive ({error})", source=str(path)) from None

    @staticmethod
    def _read(path: Path, name: str) -> np.ndarray:
        source = f"{path}:{name}" if path.suffix == ".npz" else str(path)
        try:
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as archive:
                    raw = archive[name]
            else:
                raw = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
            raise ConfigError(f"cannot read event array ({error})", source=source) from None
        return to_event_array(raw, source)


class RecordedActivity(Dataset):
    type_name = "RecordedActivity"
    summary = "Per-layer spikes recorded elsewhere (.npz with a 'layout' key such as TBCHW), replayed without weights."
    path = Param(str, desc="recorded-activity .npz archive, relative to the config file")
    gives_activity = True

    def load(self, base_dir: Path, limit: int | None) -> list:
        self._file = resolve_reference(base_dir, self.path, "workload.dataset.path")
        self._arrays = read_activity_file(self._file)
        return []

    def for_model(self, samples, model, timesteps, seed, limit):
        return recorded_samples(self._arrays, model, timesteps, str(self._file), limit)


def _check_rate_list(value) -> str | None:
    values = value if isinstance(value, list) else [value]
    if not values:
        return "give one firing rate, or a list with one rate per layer"
    for item in values:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not 0.0 <= float(item) <= 1.0:
            return f"firing rates must be numbers from 0 to 1, got {item!r}"
    return None


class SyntheticActivity(Dataset):
    type_name = "SyntheticActivity"
    summary = "Seeded random spikes for every layer at target firing rates, bunched in time by a clustering factor."
    samples = Param(int, 10, "number of samples to draw", min_value=1, max_value=1_000_000)
    input_rate = Param(float, 0.05, "firing rate of the input spikes (spikes per neuron and step)", min_value=0.0,
                       max_value=1.0)
    rates = Param(object, 0.05, "firing rate of every layer's output: one number, or a list with one per layer",
                  check=_check_rate_list)
    clustering = Param(float, 0.0, "temporal clustering from 0 (independent steps) to 1 (each neuron's spikes in "
                                   "as few consecutive steps as its rate allows)", min_value=0.0, max_value=1.0)
    gives_activity = True

    def load(self, base_dir: Path, limit: int | None) -> list:
        return []

    def planned_size(self, model, timesteps, limit):
        count = self.samples if limit is None else min(limit, self.samples)
        neurons = int(np.prod(model.input_shape)) + sum(int(np.prod(layer.out_shape)) for layer in model.layers)
        return count, count * timesteps * neurons  # one uint8 per neuron and step

    def for_model(self, samples, model, timesteps, seed, limit):
        rates = self.rates if isinstance(self.rates, list) else [self.rates] * len(model.layers)
        if len(rates) != len(model.layers):
            raise ConfigError(f"rates lists {len(rates)} firing rates, but the model has {len(model.layers)} layers",
                              key=f"{self.path}.rates")
        count = self.samples if limit is None else min(limit, self.samples)
        drawn = []
        for index in range(count):
            # A stream of its own per sample, apart from the encoder's streams for the same seed.
            rng = np.random.default_rng([seed, index, 0x5A17])
            sample = synthetic_sample(model, timesteps, self.input_rate, [float(rate) for rate in rates],
                                      self.clustering, rng)
            drawn.append((f"synthetic{index}", sample, -1))
        return drawn
