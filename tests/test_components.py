from importlib import metadata

import pytest

from spikex_sim import component
from spikex_sim.component import REGISTRY, Child, Component, Param, Port, build_component, resolve_type
from spikex_sim.errors import ConfigError
from spikex_sim.system import PEArray


def test_param_needs_description():
    with pytest.raises(TypeError):
        Param(int, 1)


def test_declarations_are_inherited():
    class Base(Component):
        abstract = True
        width = Param(int, 8, "bits")
        port = Port("buffer", "data")

    class Derived(Base):
        type_name = "TestDerivedForInheritance"
        depth = Param(int, 2, "entries")

    assert list(Derived._params) == ["width", "depth"]
    assert list(Derived._ports) == ["port"]
    assert REGISTRY["TestDerivedForInheritance"] is Derived


def test_defaults_filled_and_units_parsed():
    node = build_component({"type": "SRAMBuffer", "size": "2KiB"}, base=Component, path="system.lbuf", source="t.yaml")
    assert node.size == 2048
    assert node.width == 64
    assert node.ports == 2


def test_unknown_key_lists_nearest():
    with pytest.raises(ConfigError, match="did you mean size"):
        build_component({"type": "SRAMBuffer", "sise": "2KiB"}, base=Component, path="system.lbuf", source="t.yaml")


def test_wrong_family_is_rejected():
    with pytest.raises(ConfigError, match="needs a PEArray"):
        resolve_type("SRAMBuffer", base=PEArray, source="t.yaml", key="system.array.type")


def test_entry_point_registers_user_class(tmp_path, monkeypatch):
    (tmp_path / "plugin_arrays.py").write_text(
        "from spikex_sim.components.spikex_array import SpikeXArray\n"
        "class PluginArray(SpikeXArray):\n"
        "    abstract = True\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = metadata.EntryPoint(name="PluginArray", value="plugin_arrays:PluginArray", group=component.ENTRY_POINT_GROUP)
    monkeypatch.setattr(component.metadata, "entry_points", lambda group: [entry] if group == entry.group else [])
    monkeypatch.setattr(component, "_entry_points_loaded", False)
    cls = resolve_type("PluginArray", base=PEArray, source="t.yaml", key="system.array.type")
    assert cls.__name__ == "PluginArray"
    REGISTRY.pop("PluginArray", None)


def test_ports_check_roles():
    system = build_component({}, base=Component, path="system", source="t.yaml", default_type="System")
    system.wire()
    peer, port = system.dram.connections["downstream"]
    assert peer is system.glb
    assert port == "upstream"
    with pytest.raises(ConfigError, match="expects role buffer"):
        system.dram.connect("downstream", system.array, "upstream")


def test_child_slot_default_type():
    class Holder(Component):
        type_name = "TestHolderWithChild"
        buffer = Child(Component, "a buffer", default_type="SRAMBuffer")

    holder = build_component({"type": "TestHolderWithChild"}, base=Component, path="x", source="t.yaml")
    assert type(holder.buffer).__name__ == "SRAMBuffer"


@pytest.mark.parametrize("value", [True, 1.0, 2])
def test_time_serial_window_must_be_one(value):
    with pytest.raises(ConfigError, match="window size of 1"):
        build_component({"type": "TimeSerialArray", "tws": value}, base=PEArray, path="system.array",
                        source="t.yaml")
