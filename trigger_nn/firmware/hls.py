"""HLS back-end: a complete Vitis HLS project, and its C simulation as a shared library.

hls4ml writes it; for HGQ2's table (LUT) layers, which hls4ml 1.3 cannot convert (its distributed-arithmetic
handler fails with ``KeyError: 'da_comb_trace'``, under the latency and the DA strategy alike), da4ml's own
HLS code generator writes it from the traced logic (``da4ml.codegen.HLSModel``, Vitis flavour). Either is
verified the same way, through its C simulation.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..card import FirmwareConfig, Strategy
from ..errors import ConversionError, ToolError

log = logging.getLogger(__name__)

_STRATEGY = {Strategy.LATENCY: "Latency", Strategy.DISTRIBUTED_ARITHMETIC: "distributed_arithmetic"}


#: HGQ2's table layers, which hls4ml 1.3 cannot convert
TABLE_LAYERS = frozenset({"QDenseT", "QConvT1D", "QConvT2D", "QEinsumDenseT"})
HLS4ML, DA4ML = "hls4ml", "da4ml"


def writer_for(model: Any) -> str:
    """Who writes the HLS project of ``model``: hls4ml, or da4ml where the model has table layers (at any depth)."""

    def layers(m: Any) -> list[Any]:
        return [inner for layer in m.layers for inner in (layer, *layers(layer))] if hasattr(m, "layers") else []

    return DA4ML if any(type(layer).__name__ in TABLE_LAYERS for layer in layers(model)) else HLS4ML


def writer_of(project_dir: Path) -> str:
    """Who wrote the HLS project on disk, from its files."""
    if (Path(project_dir) / "hls4ml_config.yml").is_file():
        return HLS4ML
    if (Path(project_dir) / "model" / "comb.json").is_file():
        return DA4ML
    raise ToolError(f"{project_dir} holds neither an hls4ml nor a da4ml HLS project; run `trigger-nn compile`")


def source_dir(project_dir: Path) -> Path:
    """The project's C++ sources, the files its hash covers."""
    return Path(project_dir) / ("firmware" if writer_of(project_dir) == HLS4ML else "src")


def write_project(
    model: Any,
    out_dir: Path,
    fw: FirmwareConfig,
    *,
    project_name: str,
    comb: Any,
    tb_inputs: np.ndarray | None = None,
) -> str:
    """Write the HLS project of ``model`` into ``out_dir``, compile its C simulation (a g++ check of the
    sources) and say who wrote it.

    hls4ml converts the model; for table layers da4ml writes ``comb``, the model's traced logic.
    ``tb_inputs`` (with the model's predictions) become hls4ml's test bench ``tb_data``: without them a
    Vitis C/RTL co-simulation runs one all-zero input and measures no II.
    """
    if writer_for(model) == DA4ML:
        _write_da4ml(comb, out_dir, fw, project_name)
        return DA4ML
    with tempfile.TemporaryDirectory(prefix="trigger_nn_tb_") as tb_dir:  # hls4ml empties out_dir as it writes
        tb: dict[str, str] = {}
        if tb_inputs is not None:
            x = np.asarray(tb_inputs, dtype=np.float32)
            if tuple(x.shape[1:]) != tuple(model.input_shape[1:]):
                raise ConversionError(
                    f"the dataset's inputs have shape {x.shape[1:]} but the model takes {model.input_shape[1:]}"
                )
            tb = {"input_data_tb": f"{tb_dir}/inputs.npy", "output_data_tb": f"{tb_dir}/outputs.npy"}
            np.save(tb["input_data_tb"], x.reshape(len(x), -1))
            np.save(tb["output_data_tb"], np.asarray(model.predict(x, verbose=0)).reshape(len(x), -1))
        _write_and_compile(model, out_dir, fw, project_name, tb)
    return HLS4ML


def _write_da4ml(comb: Any, out_dir: Path, fw: FirmwareConfig, project_name: str) -> None:
    from da4ml.codegen import HLSModel

    log.info("da4ml: writing the Vitis HLS project of the table layers and compiling its C simulation (g++)")
    model = HLSModel(comb, project_name, out_dir, flavor="vitis", part_name=fw.part, clock_period=fw.clock_period_ns)
    try:
        model.compile(openmp=False)
    except RuntimeError as err:
        raise ToolError(f"da4ml's HLS C simulation did not compile in {out_dir}: {err}") from err


@contextlib.contextmanager
def _saturation_bounds_kept() -> Iterator[None]:
    """Keep a saturating quantizer's bounds through hls4ml 1.3's bit-exact width inference.

    hls4ml narrows a quantizer to the bits its input can hold. For a wrapping one it keeps the format
    wherever the input can overflow it, but for ``SAT`` it narrows regardless: a ``fixed<6,1>`` that
    saturates at 0.96875 after a 3-fraction-bit input becomes a ``fixed<4,1>`` saturating at 0.875,
    and the C simulation differs from the model (seen on QKeras' ``quantized_tanh(6)`` after a
    convolution). The wrapping rule is the right one for saturation too: the inference runs with it.
    """
    from hls4ml.model.optimizer.passes import bit_exact
    from hls4ml.model.optimizer.passes.hgq_proxy_model import FixedPointQuantizer

    plain = bit_exact._produce_kif.dispatch(FixedPointQuantizer)

    def produce(layer: Any) -> Any:
        if layer.SAT != "SAT":
            return plain(layer)
        layer.SAT = "WRAP"
        try:
            return plain(layer)
        finally:
            layer.SAT = "SAT"

    bit_exact._produce_kif.register(FixedPointQuantizer, produce)
    try:
        yield
    finally:
        bit_exact._produce_kif.register(FixedPointQuantizer, plain)


def _write_and_compile(model: Any, out_dir: Path, fw: FirmwareConfig, project_name: str, tb: dict[str, str]) -> None:
    import hls4ml

    try:
        config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vitis")
        config["Model"]["Strategy"] = _STRATEGY[fw.strategy]
        for layer in config["LayerName"].values():  # C simulation can dump every layer; Vitis skips it (__SYNTHESIS__)
            layer["Trace"] = True
        with _saturation_bounds_kept():
            hls_model = hls4ml.converters.convert_from_keras_model(
                model,
                hls_config=config,
                backend="Vitis",
                io_type=fw.io_type.value,
                part=fw.part,
                clock_period=fw.clock_period_ns,
                output_dir=str(out_dir),
                project_name=project_name,
                **tb,
            )
    except Exception as err:  # hls4ml raises bare Exception for unsupported layers
        raise ConversionError(
            f"hls4ml cannot convert the model: {err}. Build the network from HGQ2 layers (hgq.layers.Q*) "
            "that hls4ml converts exactly"
        ) from err
    log.info("hls4ml: writing the Vitis project and compiling its C simulation (g++)")
    # the layer dumps sit under `#ifndef __SYNTHESIS__`: the C simulation can trace, Vitis never sees them
    hls_model.config.trace_output = True
    try:
        hls_model.compile()
    except Exception as err:
        raise ToolError(f"hls4ml's C simulation did not compile in {out_dir}: {err}") from err
    if not any((out_dir / "firmware").glob(f"{project_name}-*.so")):
        raise ToolError(f"hls4ml compiled no C-simulation library in {out_dir / 'firmware'}")


def relocate(project_dir: Path, final_dir: Path) -> None:
    """Point the project's saved paths at where it will live, before it is moved there.

    The test bench's data were read from a temporary folder; the project keeps them in ``tb_data/``.
    da4ml's project holds only relative paths.
    """
    if writer_of(project_dir) == DA4ML:
        return
    cfg = project_dir / "hls4ml_config.yml"
    text = cfg.read_text()
    new, n = re.subn(r"^OutputDir: .*$", f"OutputDir: {final_dir.resolve()}", text, count=1, flags=re.M)
    if n != 1:
        raise ToolError(f"{cfg} has no OutputDir line; hls4ml's project layout changed")
    for key, name in (("InputData", "tb_input_features.dat"), ("OutputPredictions", "tb_output_predictions.dat")):
        if (project_dir / "tb_data" / name).is_file():
            new = re.sub(rf"^{key}: .*$", f"{key}: {final_dir.resolve() / 'tb_data' / name}", new, count=1, flags=re.M)
    cfg.write_text(new)


_TRACE_ALLOC = re.compile(
    r'insert\(std::pair<std::string, void \*>\("(\w+)", \(void \*\) malloc\((\d+) \* element_size\)'
)


def c_simulation(project_dir: Path, library: Path | None = None) -> CSimulation | Da4mlCSimulation:
    """The C simulation of the HLS project on disk, whoever wrote it: compiled here, or the ``library`` another
    process compiled from it (its ``library``), loaded as it is."""
    kind = CSimulation if writer_of(project_dir) == HLS4ML else Da4mlCSimulation
    return kind(project_dir, library=library)


def _require_library(library: Path) -> Path:
    if not Path(library).is_file():
        raise ToolError(f"the C simulation library {library} is not there: a Dask worker must see the filesystem "
                        "of the process that compiled it")  # fmt: skip
    return Path(library)


class Da4mlCSimulation:
    """da4ml's C simulation of its HLS project on disk, re-compiled from the sources there.

    It uses ``HLSModel._compile``, which builds the project's own ``sim/`` bridge without writing the
    sources again (a private method: da4ml is pinned in pyproject.toml).
    """

    def __init__(self, project_dir: Path, *, library: Path | None = None):
        from da4ml.codegen import HLSModel
        from da4ml.types import CombLogic

        project_dir = Path(project_dir).resolve()
        bridges = sorted(project_dir.glob("sim/*_bridge.cc"))
        if not bridges:
            raise ToolError(f"{project_dir / 'sim'} holds no *_bridge.cc: the da4ml HLS project is incomplete; re-run "
                            "`trigger-nn compile`")  # fmt: skip
        name = bridges[0].name.removesuffix("_bridge.cc")
        self._model = HLSModel(CombLogic.load(project_dir / "model" / "comb.json"), name, project_dir, flavor="vitis")
        if library is not None:  # da4ml 0.6 names it sim/lib<name>_<uuid>.so
            self._model._load_lib(_require_library(library).name.removeprefix(f"lib{name}_").removesuffix(".so"))
        else:
            try:
                self._model._compile(openmp=False)
            except RuntimeError as err:
                raise ToolError(f"cannot compile the C simulation of the HLS project in {project_dir}: {err}") from err
        self.library = project_dir / "sim" / f"lib{name}_{self._model._uuid}.so"

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Through the library's double-precision entry, as hls4ml's."""
        out = self._model.predict(np.ascontiguousarray(x, dtype=np.float64).reshape(len(x), -1))
        return np.asarray(out, dtype=np.float64).reshape(x.shape[0], -1)

    def trace(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """da4ml's project is one function of the whole network: there are no layers to trace."""
        return {}


class CSimulation:
    """hls4ml's C simulation of a project already on disk (re-compiled from its sources)."""

    def __init__(self, project_dir: Path, *, library: Path | None = None):
        import hls4ml

        self._project_dir = Path(project_dir).resolve()
        self._graph = hls4ml.converters.link_existing_project(str(self._project_dir))
        if library is not None:  # loaded as hls4ml's _compile loads it, without building it again
            self.library = _require_library(library)
            self._graph._top_function_lib = ctypes.cdll.LoadLibrary(str(self.library))
            return
        config = self._graph.config  # hls4ml 1.3's build_lib.sh names it firmware/<project>-<stamp>.so
        stamp = config.get_config_value("Stamp")
        self.library = self._project_dir / "firmware" / f"{config.get_project_name()}-{stamp}.so"
        try:
            self._graph.compile()
        except Exception as err:
            raise ToolError(f"cannot compile the C simulation of the HLS project in {project_dir}: {err}") from err

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Through the library's double-precision entry: exact for any word up to 53 bits, in and out."""
        out = self._graph.predict(np.ascontiguousarray(x, dtype=np.float64))
        return np.asarray(out, dtype=np.float64).reshape(x.shape[0], -1)

    def trace(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every traced layer's output (hls4ml names), one row per vector, from the library built on disk.

        hls4ml's own ``trace`` re-writes the project; this reads the project as it is, through the
        trace hooks its bridge exports (sizes from the bridge's allocations). It uses hls4ml's
        private ``_get_top_function``, pinned with hls4ml in pyproject.toml.
        """
        bridge = next(self._project_dir.glob("*_bridge.cpp")).read_text()
        sizes = {m[0]: int(m[1]) for m in _TRACE_ALLOC.findall(bridge)}
        if not sizes:
            raise ToolError(f"the HLS project in {self._project_dir} was written without layer tracing")
        x = np.ascontiguousarray(x, dtype=np.float32)
        top, ctype = self._graph._get_top_function(x)
        lib = self._graph._top_function_lib

        class TraceData(ctypes.Structure):
            _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_void_p)]

        lib.allocate_trace_storage.argtypes = [ctypes.c_size_t]
        lib.collect_trace_output.argtypes = [ctypes.POINTER(TraceData)]
        out = {name: np.zeros((len(x), size)) for name, size in sizes.items()}
        n_out = sum(v.size() for v in self._graph.get_output_variables())
        cwd = os.getcwd()
        os.chdir(self._project_dir / "firmware")  # the C simulation reads its weights from here
        try:
            lib.allocate_trace_storage(ctypes.sizeof(ctype))
            slots = (TraceData * len(sizes))()
            for i in range(len(x)):
                top(x[i], np.zeros(n_out, dtype=np.float32))
                lib.collect_trace_output(slots)
                for slot in slots:
                    name = slot.name.decode()
                    if name not in out:  # a layer the bridge traces without declaring its size
                        continue
                    data = ctypes.cast(slot.data, ctypes.POINTER(ctype))
                    out[name][i] = np.ctypeslib.as_array(data, shape=(sizes[name],))
            lib.free_trace_storage()
        finally:
            os.chdir(cwd)
        return out
