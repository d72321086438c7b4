"""The `spikex-sim` command: run, compare, export-nir, list-components, describe.

User mistakes (`ConfigError`) print one line on stderr and exit with code 2; internal
faults print a traceback and exit with code 1. `--debug` shows tracebacks for both.
Ctrl-C exits with code 130 and SIGTERM (during `run`) with code 143, each with one line;
a run folder is then either complete or absent.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import signal
import sys
import threading
import traceback
from pathlib import Path

from spikex_sim import __version__
from spikex_sim.errors import ConfigError

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
# Maximum length of a printed error line; the middle of a longer message is cut out.
MAX_MESSAGE_CHARS = 2000
# Maximum length of the config name part of a default run folder name.
MAX_FOLDER_NAME_CHARS = 64


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM, to unwind like Ctrl-C."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit code 2."""

    def error(self, message):
        raise ConfigError(f"{message} (see {self.prog} --help)", source="command line")


def _integer_at_least(minimum: int, description: str):
    """Return an argparse type that accepts integers of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {description} integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a {description} integer, got {text!r}")
        return value

    return parse


_positive_int = _integer_at_least(1, "positive")
_seed = _integer_at_least(0, "non-negative")


def _memory_size(text: str) -> int:
    from spikex_sim.units import UnitError, parse_quantity

    try:
        value = parse_quantity(text, "bytes")
    except UnitError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive size such as 16GiB, got {text!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spikex-sim", description="Simulate sparse SNN accelerators on real spiking workloads.")
    parser.add_argument("--version", action="version", version=f"spikex-sim {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for every error")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress messages to stderr")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="simulate a config and write its traces")
    run.add_argument("config", type=Path, help="YAML config file")
    run.add_argument("--out", type=Path, help="run folder to write (default: traces/<name>-<hash>/)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config value by its dotted path, e.g. system.array.rows=16")
    run.add_argument("--samples", type=_positive_int, help="simulate only the first N samples")
    run.add_argument("--seed", type=_seed, help="random seed (overrides the config's seed)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing run folder (only a folder with a manifest.json)")
    run.add_argument("--quiet", action="store_true", help="print no progress bar or summary")
    run.add_argument("--max-events", type=_positive_int, default=None, metavar="N",
                     help="stop before running if the estimated SimPy events (an upper bound) exceed N "
                          "(default 1000000000)")
    run.add_argument("--max-memory", type=_memory_size, default=None, metavar="SIZE",
                     help="stop before running if the estimated peak memory exceeds SIZE, e.g. 16GiB (default 8GiB)")

    compare = commands.add_parser("compare", help="ratios of latency, energy, EDP and traffic against the first run")
    compare.add_argument("runs", nargs="+", type=Path, help="run folders; the first is the baseline")
    compare.add_argument("--csv", type=Path, help="also write the comparison table to this CSV file")
    compare.add_argument("--overwrite", action="store_true", help="replace an existing --csv file")

    export = commands.add_parser("export-nir", help="write the config's model as a NIR graph (.nir)")
    export.add_argument("config", type=Path, help="YAML config file whose workload.model to export")
    export.add_argument("out", type=Path, help="NIR file to write")
    export.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value by its dotted path")
    export.add_argument("--dt", type=_positive_float, default=1e-4,
                        help="time step in seconds that expresses the leak as tau = dt / (1 - leak) "
                             "(default 1e-4, as snnTorch)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing file")

    commands.add_parser("list-components", help="list every registered component type")
    describe = commands.add_parser("describe", help="print a component type's parameters and ports")
    describe.add_argument("type", help="component type name or module:Class")
    return parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _safe_name(name: str) -> str:
    """Return a folder name made from a config name: ASCII letters, digits, '_', '.', '-' only.

    The result has no path separator, does not start with '.', and cannot be '..'.
    """
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:MAX_FOLDER_NAME_CHARS].strip("._")
    return cleaned or "run"


class _SignalGuard:
    """Turn SIGTERM into `Terminated`, and hold Ctrl-C and SIGTERM back while a run folder is renamed."""

    def __init__(self):
        self.deferring = False
        self.pending: int | None = None

    def handle(self, signum, frame) -> None:
        if self.deferring:
            self.pending = signum
            return
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    @contextlib.contextmanager
    def installed(self):
        """Install the handlers for SIGINT and SIGTERM (main thread only) and restore the old ones."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {number: signal.signal(number, self.handle) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    @contextlib.contextmanager
    def deferred(self):
        """Delay a signal that arrives inside the block until the block has finished."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        if self.pending is not None:
            raise Terminated() if self.pending == signal.SIGTERM else KeyboardInterrupt()


def command_run(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from spikex_sim.config import load_config
    from spikex_sim.preflight import DEFAULT_MAX_EVENTS, DEFAULT_MAX_MEMORY
    from spikex_sim.report import print_summary
    from spikex_sim.runner import simulate
    from spikex_sim.traces import check_run_folder, write_run

    limits = {"max_events": args.max_events or DEFAULT_MAX_EVENTS, "max_memory": args.max_memory or DEFAULT_MAX_MEMORY}
    written = None
    with _SignalGuard().installed() as guard:
        try:
            config = load_config(args.config, args.overrides, args.seed)
            if args.out is not None:
                check_run_folder(args.out, overwrite=args.overwrite)  # fail before a long run, not after it
            console = Console()
            if not console.is_terminal:
                console = Console(width=120)  # the summary tables need more than the 80-column default
            if args.quiet:
                result = simulate(config, samples=args.samples, **limits)
            else:
                columns = (TextColumn("[bold]simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
                with Progress(*columns, console=console, transient=True) as progress:
                    task = progress.add_task("samples", total=None)

                    def update(done: int, total: int) -> None:
                        progress.update(task, completed=done, total=total)

                    result = simulate(config, samples=args.samples, progress=update, **limits)
            out_dir = args.out or Path("traces") / f"{_safe_name(config.name)}-{result.manifest['config_hash'][:10]}"
            with guard.deferred():
                written = write_run(result, out_dir, overwrite=args.overwrite)
        except KeyboardInterrupt as interruption:
            interruption.run_folder = written
            raise
    if not args.quiet:
        print_summary(console, result, written)
    return 0


def command_list_components(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from spikex_sim.component import REGISTRY, load_builtin_components

    load_builtin_components()
    table = Table(title="registered component types")
    table.add_column("type")
    table.add_column("family")
    table.add_column("summary")
    for name, cls in sorted(REGISTRY.items()):
        family = next((base.type_name for base in cls.__mro__[1:] if getattr(base, "abstract", False)
                       and base.__name__ != "Component"), "")
        table.add_row(name, family, cls.summary)
    Console().print(table)
    return 0


def _describe_range(param) -> str:
    """Return the accepted values of a parameter, such as '>= 1', '(0, 3600]' or 'time, count'."""
    if param.choices is not None:
        return ", ".join(map(str, param.choices))
    low, high = param.min_value, param.max_value
    if low is None and high is None:
        return ""
    if high is None:
        return f"{'>' if param.min_exclusive else '>='} {low:g}"
    if low is None:
        return f"<= {high:g}"
    return f"{'(' if param.min_exclusive else '['}{low:g}, {high:g}]"


def command_describe(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from spikex_sim.component import Component, resolve_type

    cls = resolve_type(args.type, base=Component, source="command line", key="describe")
    console = Console()
    console.print(f"[bold]{args.type}[/bold]: {cls.summary}")
    params = Table(title="parameters")
    for column in ("name", "type", "unit", "default", "range", "description"):
        params.add_column(column)
    for name, param in cls._params.items():
        default = "(required)" if param.required else str(param.to_yaml(param.convert(param.default))
                                                            if param.default is not None else None)
        unit = param.unit or ""
        params.add_row(name, param.describe_type() if not param.unit else "quantity", unit, default,
                       _describe_range(param), param.desc)
    console.print(params)
    if cls._ports:
        ports = Table(title="ports")
        for column in ("name", "role", "accepts", "description"):
            ports.add_column(column)
        for name, port in cls._ports.items():
            ports.add_row(name, port.role, port.peer_role or "any", port.desc)
        console.print(ports)
    if cls._children:
        children = Table(title="child slots")
        for column in ("name", "family", "default type", "description"):
            children.add_column(column)
        for name, slot in cls._children.items():
            children.add_row(name, slot.base.type_name, slot.default_type or "", slot.desc)
        console.print(children)
    return 0


def command_compare(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from spikex_sim.compare import compare_runs

    if args.csv and args.csv.exists() and not args.overwrite:
        raise ConfigError("file already exists; pass --overwrite or choose another --csv", source=str(args.csv))
    frame = compare_runs(args.runs)
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)
    table = Table(title=f"times better than {frame['config_name'].iloc[0]} (first run); mean per sample")
    for column in ("run", "layer", "latency", "energy", "EDP", "DRAM bytes", "GLB bytes", "LBUF bytes"):
        table.add_column(column, justify="right")
    for _, row in frame.iterrows():
        ratios = [row[f"{metric}_ratio"] for metric in ("latency_cycles", "energy_pj", "edp_js", "dram_bytes",
                                                        "glb_bytes", "lbuf_bytes")]
        table.add_row(row["config_name"], row["layer"], *(f"{value:.2f}x" for value in ratios))
    console.print(table)
    if args.csv:
        try:
            frame.to_csv(args.csv, index=False)
        except OSError as error:
            raise ConfigError(f"cannot write the CSV file ({error.strerror or error}); choose another --csv",
                              source=str(args.csv)) from None
    return 0


def command_export_nir(args) -> int:
    from spikex_sim.config import load_config
    from spikex_sim.workload.nir_io import write_nir_model

    if args.out.exists() and not args.overwrite:
        raise ConfigError("file already exists; pass --overwrite or choose another path", source=str(args.out))
    config = load_config(args.config, args.overrides)
    model = config.workload.model.load(config.base_dir)
    try:
        write_nir_model(model, args.out, dt=args.dt)
    except OSError as error:
        raise ConfigError(f"cannot write the NIR file ({error.strerror or error}); choose another path",
                          source=str(args.out)) from None
    print(f"wrote {args.out}: {len(model.layers)} layers of {model.name}; to get the same spikes back, read it with "
          f"type NIRModel, quantization: integer, leak_conversion: linear, dt: {args.dt:g}s"
          + (", reset: subtract" if any(layer.neuron.reset == "subtract" for layer in model.layers) else ""))
    return 0


COMMANDS = {"run": command_run, "compare": command_compare, "list-components": command_list_components,
            "describe": command_describe, "export-nir": command_export_nir}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `spikex-sim` console script; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    if debug:
        # --debug is accepted before or after the subcommand.
        argv = ["--debug"] + [argument for argument in argv if argument != "--debug"]
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        return COMMANDS[args.command](args)
    except ConfigError as error:
        if debug:
            traceback.print_exc()
        print(f"spikex-sim: error: {_one_line(str(error))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as interruption:
        if debug:
            traceback.print_exc()
        signal_number = signal.SIGTERM if isinstance(interruption, Terminated) else signal.SIGINT
        cause = "terminated by SIGTERM" if isinstance(interruption, Terminated) else "interrupted"
        written = getattr(interruption, "run_folder", None)
        outcome = f"the run folder {written} was written before" if written else "no run folder was written"
        print(f"spikex-sim: {cause}; {outcome}", file=sys.stderr)
        return 128 + signal_number
    except Exception:
        traceback.print_exc()
        print("spikex-sim: internal error; please report it with the traceback above and your config",
              file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def _one_line(message: str) -> str:
    """Return `message` on one line (any line break or tab becomes a space), cut to MAX_MESSAGE_CHARS."""
    text = " ".join(message.split())
    if len(text) > MAX_MESSAGE_CHARS:
        keep = MAX_MESSAGE_CHARS // 2
        text = f"{text[:keep]} [...] {text[-keep:]}"
    return text


if __name__ == "__main__":
    sys.exit(main())
