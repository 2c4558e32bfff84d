"""The ``sparsediff`` command line."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparsediff",
        description="Automatic sparse differentiation for JAX.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="sparse Jacobian of a 2D Brusselator, end to end",
        description="Detect, color, evaluate and verify the sparse Jacobian of a 2D "
        "Brusselator reaction-diffusion right-hand side.",
        epilog="example: sparsediff demo --grid 128",
    )
    demo.add_argument("--grid", type=int, default=64, help="grid size N (n = 2 N²; default 64)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            if args.grid < 2:
                print("sparsediff: error: --grid must be at least 2", file=sys.stderr)
                return 2
            from .demo import run

            return 0 if run(args.grid) else 1
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - one clear line unless --debug
        if args.debug:
            raise
        print(f"sparsediff: error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
