"""The `trigger-nn` command: one sub-command per stage, and `build` for all of them.

Each stage reads the previous stage's files under ``<projects>/<model>/`` and
writes its own; nothing here but argument parsing, logging and exit codes.
"""

from __future__ import annotations

import argparse
import functools
import logging
import signal
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cluster import Cluster
from .errors import CardError, MismatchError, TriggerNNError

if TYPE_CHECKING:
    from .card import Card

log = logging.getLogger("trigger_nn")

STAGE_HELP = {
    "simulate": "simulate the card's dataset -> data/dataset.h5",
    "train": "train the quantised Keras model (HGQ2) -> train/model.keras, the Python reference",
    "compile": "write the Vitis HLS project (hls/: hls4ml's, or da4ml's for table layers; C simulation built) "
    "and da4ml pipelined Verilog (rtl/) and VHDL (vhdl/), each with <name>_top: a valid strobe and a reset",
    "verify": "check Python reference = HLS C simulation = Verilog (Verilator), bit for bit, on the card's "
    "verify.n_vectors (default 10,000) edge, test-set and random vectors",
    "cosim": "stream a new input every clock through the Verilog (cocotb + Verilator) and the VHDL (cocotb + GHDL); "
    "measure latency and II against the card's budget; write and run the self-checking SystemVerilog and VHDL "
    "testbenches (testbench/)",
    "trigger": "the task's whole trigger (for cdms_lfn: OF FIR + network + decision logic) as one streaming "
    "Verilog block at the report's operating point, streamed sample by sample against its integer model "
    "(cocotb + Verilator)",
    "report": "write report.json and report.md (+ plots) from every stage's results",
}
STAGES = tuple(STAGE_HELP)
#: commands that are not part of `build`
COMMAND_HELP = {
    "synth": "open-source synthesis of the Verilog (Yosys synth_xilinx for the card's FPGA family) -> synth.json: "
    "LUTs, FFs, carry chains, DSPs, BRAMs, set beside the estimates in the report",
    "scan": "design-space scan: every network.beta x clock period of the card's scan section, each trained, "
    "compiled, verified and synthesised in parallel on Dask -> <projects>/<name>_scan/{scan.md,scan.json,pareto.png}; "
    "an interrupted scan resumes where it stopped",
    "golden": "write models/<name>/golden.npz and model.keras from a verified build: the committed regression "
    "vectors that `make test` checks the reference, C simulation and Verilog against",
}

COMPARE_HELP = (
    "set built cards of one task side by side (for ecl_photon: the crystal and the trigger-cell view of the same "
    "clusters) -> <projects>/compare_<names>/{compare.md,compare.json,plots/}"
)
IMPORT_HELP = (
    "read a Keras 2 / QKeras 0.9 model (MODEL.json WEIGHTS.h5, or MODEL.h5) and rebuild it on Keras 3 / HGQ2 with "
    "the same quantisers, or take a Keras 3 model of HGQ2 layers (MODEL.keras) as it is -> MODELS/NAME.yaml and "
    "MODELS/NAME/"
)


def _stage_runner(name: str, cluster: Cluster | None = None) -> Callable[..., Any]:
    """Import a stage lazily: `--help` must not pay for TensorFlow. ``cluster``: where verify shards its vectors."""
    from . import compile as compile_stage
    from . import cosim, golden, report, simulate, synth, train, trigger, verify

    return {
        "simulate": simulate.run,
        "train": train.run,
        "compile": compile_stage.run,
        "verify": functools.partial(verify.run, cluster=cluster),
        "cosim": cosim.run,
        "trigger": trigger.run,
        "report": report.run,
        "golden": golden.run,
        "synth": synth.run,
    }[name]


def _record_timing(project: Path, stage: str, seconds: float) -> None:
    from .artifacts import Timings

    path = project / "timings.json"
    stages = Timings.read(path)
    stages[stage] = round(seconds, 2)
    Timings(stages=stages).save(path)


def run_stages(
    card_path: Path,
    stages: tuple[str, ...],
    projects: Path,
    *,
    skip_fresh: bool = False,
    committed_model: bool = False,
    verify_vectors: int | None = None,
    cluster: Cluster | None = None,
) -> Path:
    """Run ``stages`` in order; with ``skip_fresh`` (``build``), skip those whose artifact still belongs to the card
    and its inputs (``trigger_nn.provenance``). ``committed_model`` and ``verify_vectors`` override the card's
    ``training.committed_model`` and ``verify.n_vectors``; with a ``cluster``, verify shards its vectors over it."""
    from . import project_lock
    from .card import load_card, with_options

    card = with_options(load_card(card_path), committed_model=committed_model, verify_vectors=verify_vectors)
    project = card.project_dir(projects)
    with project_lock.hold(project, " ".join((stages[0] if len(stages) == 1 else "build", str(card_path)))):
        _run_in(card, project, stages, skip_fresh=skip_fresh, cluster=cluster)
    return project


#: stages that load TensorFlow (its start-up lines are silenced: `_deps.import_tensorflow`)
TENSORFLOW_STAGES = frozenset({"train", "compile", "verify", "trigger"})


def _run_in(card: Card, project: Path, stages: tuple[str, ...], *, skip_fresh: bool, cluster: Cluster | None) -> None:
    from . import provenance
    from ._deps import import_tensorflow, setup_environment

    setup_environment()
    for i, stage in enumerate(stages, 1):
        if skip_fresh:
            reason = provenance.stale_reason(card, project, stage)
            if reason is None:
                log.info("[%d/%d] %s: up to date (made from this card and its inputs), skipped", i, len(stages), stage)
                continue
            log.info("[%d/%d] %s: to run: %s", i, len(stages), stage, reason)
        log.info("[%d/%d] %s: %s", i, len(stages), stage, (STAGE_HELP | COMMAND_HELP)[stage])
        if stage in TENSORFLOW_STAGES:
            import_tensorflow()
        t0 = time.perf_counter()
        try:
            _stage_runner(stage, cluster)(card, project)
        except MismatchError:
            if stage == "verify" and "report" in stages:
                _stage_runner("report")(card, project)  # a FAIL report that says where the firmware differs
            raise
        seconds = time.perf_counter() - t0
        _record_timing(project, stage, seconds)
        log.info("[%d/%d] %s done in %.1f s", i, len(stages), stage, seconds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trigger-nn",
        description="Compile a quantised Keras trigger network, described by a model card, into a verified "
        "hls4ml HLS project and co-simulated da4ml Verilog, with a latency report.",
    )
    logs = argparse.ArgumentParser(add_help=False)
    logs.add_argument("-v", "--verbose", action="store_true", help="debug logging, and tracebacks on errors")
    logs.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    common = argparse.ArgumentParser(add_help=False, parents=[logs])
    common.add_argument("card", type=Path, help="model card (YAML), e.g. models/cdms_lfn.yaml")
    common.add_argument(
        "--projects", type=Path, default=Path("hls_projects"), help="where build trees go (default: hls_projects)"
    )
    common.add_argument(
        "--committed-model",
        action="store_true",
        help="no training: build the model committed beside the card (models/<name>/model.keras), which gives the "
        "committed firmware on any machine (training is deterministic per machine, not across CPUs); the same as "
        "`training: {committed_model: true}` in the card. Give it to every command run on that build",
    )
    common.add_argument(
        "--vectors",
        type=int,
        metavar="N",
        help="verify on N vectors instead of the card's verify.n_vectors (e.g. 1000000 for a regression run: "
        "the reference, the C simulation and the Verilog emulation, bit for bit); give it to every command run on "
        "that build",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    build = sub.add_parser(
        "build",
        parents=[common],
        help="run every stage that is out of date: " + " -> ".join(STAGES),
        description="Run the stages in order, skipping each whose files were made from this card and from the "
        "files they read now (a stage that re-runs makes the stages after it run too): "
        + "; ".join(f"{s}: {h}" for s, h in STAGE_HELP.items()),
    )
    _add_cluster_options(build, "verify's shards of the vectors")
    for stage, text in (STAGE_HELP | COMMAND_HELP).items():
        cmd = sub.add_parser(stage, parents=[common], help=text, description=text[0].upper() + text[1:] + ".")
        if stage in ("scan", "verify"):
            _add_cluster_options(cmd, "points" if stage == "scan" else "shards of the vectors")
    cmp = sub.add_parser(
        "compare",
        parents=[logs],
        help=COMPARE_HELP,
        description=COMPARE_HELP[0].upper() + COMPARE_HELP[1:] + ". Each card must be built (`trigger-nn build`) "
        "and PASS; a report that no longer belongs to its card is refused.",
    )
    cmp.add_argument("cards", type=Path, nargs="+", help="two or more model cards of one task, e.g. "
                     "models/ecl_photon.yaml models/ecl_photon_tc.yaml")  # fmt: skip
    cmp.add_argument(
        "--projects", type=Path, default=Path("hls_projects"), help="where build trees go (default: hls_projects)"
    )
    imp = sub.add_parser(
        "import",
        parents=[logs],
        help=IMPORT_HELP,
        description=IMPORT_HELP[0].upper() + IMPORT_HELP[1:] + ". Then `trigger-nn build MODELS/NAME.yaml`.",
    )
    imp.add_argument("model", type=Path, help="MODEL.json (with WEIGHTS.h5), a full-model MODEL.h5, or MODEL.keras")
    imp.add_argument("weights", type=Path, nargs="?", help="WEIGHTS.h5 for a MODEL.json")
    imp.add_argument("-o", "--output", required=True, metavar="NAME", help="the imported model's name (its card)")
    imp.add_argument("--models", type=Path, default=Path("models"), help="where the card goes (default: models)")
    imp.add_argument(
        "--inputs",
        type=Path,
        help="an .npz with 'x', the vectors verify and cosim send (and 'y', QKeras' own predictions on them, "
        "which the rebuilt model must equal); default: 10,000 random words of the input format",
    )
    imp.add_argument(
        "--input-format",
        help="the input word as fixed<W,I> or ufixed<W,I> (default: from --inputs or the first quantiser)",
    )
    imp.add_argument("--force", action="store_true", help="replace an existing card and model folder of that name")
    imp.add_argument(
        "--drop-final-activation",
        action="store_true",
        help="leave out a final float softmax or sigmoid, which only turns logits into probabilities: the firmware "
        "outputs the logits (a trigger decides on them); --inputs' 'y' may then be the logits or QKeras' probabilities",
    )
    return parser


def _add_cluster_options(cmd: argparse.ArgumentParser, what: str) -> None:
    group = cmd.add_argument_group(f"Dask (runs {what} in parallel)")
    alone = "" if what == "points" else "; without --workers or --scheduler, all runs in this process"
    cores = "local Dask worker processes (default: the cores, at most 4)"
    group.add_argument("--workers", type=int, help=cores + alone)
    group.add_argument(
        "--scheduler",
        help="address of a running Dask scheduler (e.g. tcp://host:8786, an HTCondor pool through "
        "dask-jobqueue) instead of a local cluster; its workers must see this filesystem",
    )


def run_import(args: argparse.Namespace) -> Path:
    from ._deps import import_tensorflow
    from .tasks.imported.importer import run

    import_tensorflow()
    return run(
        args.model, args.weights, args.output, models_dir=args.models, inputs=args.inputs,
        input_format=args.input_format, force=args.force, drop_final_activation=args.drop_final_activation,
    )  # fmt: skip


def run_compare(card_paths: list[Path], projects: Path) -> Path:
    from .card import load_card
    from .compare import run

    return run([load_card(p) for p in card_paths], projects)


def run_scan(card_path: Path, projects: Path, cluster: Cluster) -> Path:
    from ._deps import setup_environment
    from .card import load_card
    from .scan import run

    card = load_card(card_path)
    setup_environment()
    run(card, projects, cluster)
    return Path(projects) / f"{card.name}_scan"


def _configure_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S")
    quiet_level = logging.DEBUG if verbose else logging.WARNING
    for noisy in ("tensorflow", "absl", "h5py", "matplotlib", "cocotb", "cocotb_tools"):
        logging.getLogger(noisy).setLevel(max(quiet_level, level))
    if not verbose:
        # cocotb's runners set their own loggers ("Verilator", "Ghdl") to INFO on creation and echo every command.
        for handler in logging.getLogger().handlers:
            handler.addFilter(
                lambda record: record.name not in ("Verilator", "Ghdl") or record.levelno >= logging.WARNING
            )
    if not verbose:
        # Third-party deprecation and resource chatter is not the user's business; our own warnings still show.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=ResourceWarning)
        warnings.filterwarnings("ignore", module=r"(keras|hls4ml|tensorflow|hgq|da4ml)(\.|$)")


def _terminated(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM (a batch system, `kill`) ends a run as Ctrl-C does: message, clean-up


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return _main(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cluster_of(args: argparse.Namespace) -> Cluster | None:
    """The Dask cluster the user asked verify to shard over, or None: in this process."""
    workers, scheduler = getattr(args, "workers", None), getattr(args, "scheduler", None)
    return None if workers is None and scheduler is None else Cluster(workers, scheduler)


def _main(args: argparse.Namespace) -> int:
    stages = STAGES if args.command == "build" else (args.command,)
    try:
        if args.command == "import":
            card_path = run_import(args)
            print(f"import: {card_path}; next: trigger-nn build {card_path}")
            return 0
        if args.command == "compare":
            out = run_compare(args.cards, args.projects)
            print(f"comparison: {out / 'compare.md'} and {out / 'compare.json'}")
            return 0
        if args.command == "scan":
            if args.committed_model or args.vectors is not None:
                raise CardError("--committed-model and --vectors do not apply to `scan`: it builds its own points")
            scan_dir = run_scan(args.card, args.projects, Cluster(args.workers, args.scheduler))
            print(f"scan: {scan_dir / 'scan.md'}, {scan_dir / 'scan.json'} and {scan_dir / 'pareto.png'}")
            return 0
        project = run_stages(
            args.card,
            stages,
            args.projects,
            skip_fresh=args.command == "build",
            committed_model=args.committed_model,
            verify_vectors=args.vectors,
            cluster=_cluster_of(args),
        )
    except TriggerNNError as err:
        log.debug("traceback", exc_info=True)
        print(f"trigger-nn {args.command}: error: {err}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as err:
        log.debug("traceback", exc_info=True)
        print(
            f"trigger-nn {args.command}: error: the Python module {err.name!r} is not installed; "
            "run `make install` in the repository (it installs every pinned dependency into .venv)",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"trigger-nn {args.command}: interrupted; finished stages' files are kept", file=sys.stderr)
        return 130
    except OSError as err:  # a folder that cannot be written, a full disk, a path that is a file
        log.debug("traceback", exc_info=True)
        where = f": {err.filename}" if err.filename else ""
        print(f"trigger-nn {args.command}: error: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    except Exception as err:  # an unexpected failure is still one message, and a non-zero exit
        log.debug("traceback", exc_info=True)
        print(
            f"trigger-nn {args.command}: internal error: {type(err).__name__}: {err} (run with -v for the traceback)",
            file=sys.stderr,
        )
        return 3
    if "report" in stages:
        print(f"report: {project / 'report.md'} and {project / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
