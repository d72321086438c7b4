"""Dense systolic arrays: cycle counts and MAC counts worked out by hand."""

import numpy as np
import pytest
import yaml

from spikex_sim.dataflow import dense
from spikex_sim.dataflow.schedule import KEY_INDEX, BufferGeometry
from spikex_sim.dataflow.spikex import run_layer as spikex_run_layer
from spikex_sim.dataflow.schedule import ArrayShape
from spikex_sim.errors import ConfigError
from spikex_sim.workload.model import load_model

GEOMETRY = BufferGeometry(glb_spikes=10**6, glb_weights=10**6, glb_vmem=10**6, lbuf_spikes=10**5,
                          lbuf_weights=10**5, weight_bits=8, membrane_bits=16)


def one_conv(tmp_path, height, width, kernel, stride=1, padding=0, channels=1, filters=1):
    spec = {"input_shape": [channels, height, width], "weights": "w.npz", "layers": [
        {"name": "conv", "kind": "conv", "out_channels": filters, "kernel": kernel, "stride": stride,
         "padding": padding}]}
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(spec))
    np.savez(tmp_path / "w.npz", **{"conv.weight": np.ones((filters, channels, kernel, kernel), dtype=np.int8),
                                    "conv.threshold": np.int32(1000), "conv.leak_q": np.int32(256)})
    return load_model(tmp_path / "model.yaml", fire=">=", reset="zero", membrane_bits=16).layers[0]


def test_output_stationary_4x4_gemm():
    # P = 4 positions (1x4 input, 1x1 kernel), K = 4 channels, M = 4 filters: 64 MACs.
    assert dense.gemm_cycles("os", 4, 4, 4, 4, 4, drain=False) == 10
    assert dense.gemm_cycles("os", 4, 4, 4, 4, 4, drain=True) == 14


def test_gemm_shaped_conv_macs(tmp_path):
    layer = one_conv(tmp_path, 1, 4, 1, channels=4, filters=4)
    assert dense.gemm_shape(layer) == (4, 4, 4)
    assert dense.real_pixel_macs(layer) == 64


def test_empty_output_is_load_error(tmp_path):
    with pytest.raises(ConfigError, match="is empty"):
        one_conv(tmp_path, 2, 2, 3)


def test_padded_2x2_input(tmp_path):
    layer = one_conv(tmp_path, 2, 2, 3, padding=1)
    positions, reductions, filters = dense.gemm_shape(layer)
    assert layer.out_shape == (1, 2, 2)
    assert positions * reductions * filters == 36
    assert dense.real_pixel_macs(layer) == 16


def test_padded_4x4_input(tmp_path):
    layer = one_conv(tmp_path, 4, 4, 3, padding=1)
    positions, reductions, filters = dense.gemm_shape(layer)
    assert layer.out_shape == (1, 4, 4)
    assert positions * reductions * filters == 144
    assert dense.real_pixel_macs(layer) == 100

    spikes = np.ones((1, 1, 4, 4), dtype=np.uint8)
    _, schedule = dense.run_layer(layer, spikes, 4, 4, "os", True, 8, GEOMETRY)
    assert schedule.traffic[:, KEY_INDEX[("dram", "glb", "spikes_in")]].sum() == 16

    _, sparse = spikex_run_layer(layer, spikes, 1, ArrayShape(4, 4), "auto", GEOMETRY)
    assert sparse.counts["pe.accumulate"] <= 100


@pytest.mark.parametrize("stride, shape", [([2, 1], (1, 3, 6)), ([1, 2], (1, 6, 3))])
def test_rectangular_stride(tmp_path, stride, shape):
    layer = one_conv(tmp_path, 8, 8, 3, stride=stride)
    positions, reductions, filters = dense.gemm_shape(layer)
    assert layer.out_shape == shape
    assert positions * reductions * filters == 162


def test_one_filter_on_32x32_output_stationary(tmp_path):
    layer = one_conv(tmp_path, 34, 34, 3)
    positions, reductions, filters = dense.gemm_shape(layer)
    row_folds, col_folds, _, _, _ = dense.fold_counts("os", positions, reductions, filters, 32, 32)
    assert row_folds == 32
    assert col_folds == 1
    assert dense.mapping_efficiency("os", positions, reductions, filters, 32, 32) == pytest.approx(0.03125)
    assert positions * reductions * filters == 9216


def test_arithmetic_energy_counts_ignore_array_size(tmp_path):
    layer = one_conv(tmp_path, 8, 8, 3, channels=4, filters=8)
    spikes = (np.random.default_rng(0).random((3, 4, 8, 8)) < 0.3).astype(np.uint8)
    _, small = dense.run_layer(layer, spikes, 16, 16, "ws", True, 1, GEOMETRY)
    _, large = dense.run_layer(layer, spikes, 32, 32, "ws", True, 1, GEOMETRY)
    assert small.counts["pe.accumulate"] == large.counts["pe.accumulate"]
