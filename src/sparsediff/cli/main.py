"""The ``sparsediff`` command line.

Subcommands: ``demo`` (a built-in problem end to end), ``detect`` (the
sparsity pattern of your function), ``color`` (color a saved pattern) and
``bench`` (the benchmark suite of a source checkout).  Errors print one line on
stderr and exit with status 2 (usage: bad arguments, names that do not
resolve) or 1 (failure while running); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import USAGE, CLIError, one_line
from .progress import Progress

__all__ = ["main", "build_parser"]

_EXIT_STATUS = "exit status: 0 success, 1 failure, 2 usage error"


class _Parser(argparse.ArgumentParser):
    """Argument parser whose usage errors are one line on stderr (status 2)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(USAGE, f"sparsediff: error: {message} (see '{self.prog} --help')\n")


def _common(parser: argparse.ArgumentParser, top: bool) -> None:
    # On subcommands the defaults are SUPPRESS so they do not reset the top-level flags.
    default: Any = False if top else argparse.SUPPRESS
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show full tracebacks on errors"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="no progress on stderr"
    )


def _subparser(sub: Any, name: str, help: str, description: str, epilog: str):
    parser = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog + "\n\n" + _EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(parser, top=False)
    return parser


def _add_demo(sub: Any) -> None:
    from ..problems.info import DEFAULT_PROBLEM, PROBLEM_INFO

    problems = "\n".join(
        f"  {p.name:<12} {p.summary}\n  {'':<12} size: {p.size_help}, default {p.default_size}"
        for p in PROBLEM_INFO.values()
    )
    demo = _subparser(
        sub,
        "demo",
        "a built-in problem end to end (detect, color, evaluate, verify)",
        "Detect, color, evaluate and verify the sparse Jacobian or Hessian of a built-in "
        "problem.\n\nproblems:\n" + problems,
        "example: sparsediff demo --grid 128\n"
        "         sparsediff demo --problem arrowhead --size 500 --plot arrowhead.png",
    )
    demo.add_argument(
        "--problem",
        choices=list(PROBLEM_INFO),
        default=DEFAULT_PROBLEM,
        help=f"which problem (default {DEFAULT_PROBLEM})",
    )
    size = demo.add_mutually_exclusive_group()
    size.add_argument(
        "--grid",
        type=int,
        default=None,
        metavar="N",
        help="grid side N of brusselator (n = 2 N², default 64) and conv; same as --size",
    )
    size.add_argument(
        "--size", type=int, default=None, metavar="N", help="problem size (see the problems above)"
    )
    demo.add_argument("--plot", metavar="FILE.png", help="write a spy plot of the colored pattern")


def _add_detect(sub: Any) -> None:
    detect = _subparser(
        sub,
        "detect",
        "sparsity pattern of a function of yours",
        "Import MODULE (or a path to a .py file), trace FUNCTION on abstract inputs of the "
        "given shapes and detect the sparsity pattern of its Jacobian (or Hessian), without "
        "evaluating it.",
        "example: sparsediff detect mymodel:residual --arg 64x64 --arg 3:float64 --argnums 0\n"
        "         sparsediff detect path/to/f.py:loss --arg 1000 --hessian --save H.npz\n\n"
        "shapes: 100, 64x64, 2,32,32 or (3, 4); '()' or scalar for 0-d; add :DTYPE "
        "(default float32)",
    )
    detect.add_argument(
        "target", metavar="MODULE:FUNCTION", help="function to analyse (or path/file.py:FUNCTION)"
    )
    detect.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="SHAPE[:DTYPE]",
        help="shape and dtype of the next positional argument (repeat for each)",
    )
    detect.add_argument(
        "--argnums",
        nargs="+",
        metavar="I",
        help="arguments to differentiate with respect to (default 0)",
    )
    detect.add_argument("--hessian", action="store_true", help="Hessian instead of Jacobian")
    detect.add_argument(
        "--has-aux", action="store_true", help="the function returns (output, auxiliary data)"
    )
    detect.add_argument("--save", metavar="PATTERN.npz", help="save the pattern to this file")
    detect.add_argument("--plot", metavar="FILE.png", help="write a spy plot of the pattern")


def _add_color(sub: Any) -> None:
    from .color import ORDER_HELP, PROBLEM_CHOICES, problem_name

    color = _subparser(
        sub,
        "color",
        "color a saved sparsity pattern",
        "Color a pattern saved by 'sparsediff detect --save' (or SparsityPattern.save) and "
        "compare the number of colors (AD passes) with a lower bound.",
        "example: sparsediff color J.npz --problem bidirectional --order best\n"
        "         sparsediff color H.npz --problem star\n\n"
        "problems: the names sparsediff.color takes; 'symmetric' is still accepted for star\n"
        "orders: " + ORDER_HELP,
    )
    color.add_argument("pattern", metavar="PATTERN.npz", help="a saved sparsity pattern")
    color.add_argument(
        "--problem",
        type=problem_name,
        choices=PROBLEM_CHOICES,
        default="column",
        help="default column",
    )
    color.add_argument(
        "--order",
        metavar="NAME|best",
        default=None,
        help="vertex order of greedy coloring, or best (default: the problem's default)",
    )
    color.add_argument("--plot", metavar="FILE.png", help="write a spy plot of the coloring")


def _add_bench(sub: Any) -> None:
    from .bench import SUITES

    bench = _subparser(
        sub,
        "bench",
        "run the benchmark suite (needs a source checkout)",
        "Run the benchmarks (python -m benchmarks.detection, .coloring and .evaluation) of a "
        "source checkout of sparsediff, one after the other.",
        "example: sparsediff bench --quick --only detection coloring",
    )
    bench.add_argument("--quick", action="store_true", help="small sizes only")
    bench.add_argument(
        "--only", nargs="+", choices=SUITES, metavar="SUITE", help="of: " + ", ".join(SUITES)
    )
    bench.add_argument("--no-asdex", action="store_true", help="time sparsediff only")
    bench.add_argument(
        "--root", metavar="DIR", help="checkout holding benchmarks/ (default: found next to src/)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sparsediff",
        description="Automatic sparse differentiation for JAX.",
        epilog="example: sparsediff detect mymodule:f --arg 100 --save J.npz && "
        "sparsediff color J.npz\n\n" + _EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(sub)
    _add_detect(sub)
    _add_color(sub)
    _add_bench(sub)
    return parser


def _run(args: argparse.Namespace, progress: Progress) -> int:
    if args.command == "demo":
        size = args.grid if args.grid is not None else args.size
        if size is not None and size < 2:
            flag = "--grid" if args.grid is not None else "--size"
            print(f"sparsediff: error: {flag} must be at least 2", file=sys.stderr)
            return USAGE
        if args.plot:
            from .common import check_plot_path

            check_plot_path(args.plot)
        from .demo import run

        ok = run(size, problem=args.problem, plot=args.plot, progress=progress)
        sys.stdout.flush()
        return 0 if ok else 1
    if args.command == "detect":
        from .detect import run_detect

        return run_detect(args, progress)
    if args.command == "color":
        from .color import run_color

        return run_color(args, progress)
    if args.command == "bench":
        from .bench import run_bench

        return run_bench(args)
    raise CLIError(f"unknown command {args.command!r}")  # pragma: no cover - argparse checks


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already printed
        code = stop.code
        return code if isinstance(code, int) else (0 if code is None else USAGE)
    progress = Progress(enabled=not args.quiet)
    try:
        return _run(args, progress)
    except KeyboardInterrupt:
        print("sparsediff: interrupted", file=sys.stderr)
        return 130
    except CLIError as err:
        if args.debug:
            raise
        print(f"sparsediff: error: {err}", file=sys.stderr)
        return err.code
    except Exception as err:  # noqa: BLE001 - one clear line unless --debug
        if args.debug:
            raise
        print(
            f"sparsediff: error: {one_line(err)} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
