"""Benchmark report: runs the benchmarks and writes results, plots and a headline table.

Usage::

    python -m benchmarks.report [--quick] [--no-asdex] [--out-dir DIR] [--update-readme]
                                [--benchmarks NAME ...] [--verbose] [--keep-others]
    python -m benchmarks.report --merge RESULTS_JSON ... [--out-dir DIR] [--update-readme]

``--keep-others`` keeps the stages not run from the existing ``results.json``; ``--merge``
runs nothing and assembles the report from stages recorded in several ``results.json`` files
(stages run at the same time on separate copies of the code). Every section names the command,
commit and date that produced it.

Runs ``benchmarks.detection``, ``benchmarks.coloring``, ``benchmarks.evaluation``,
``benchmarks.solvers``, ``benchmarks.nlp``, ``benchmarks.scaling`` and ``benchmarks.fuzz``
(:data:`FUZZ_PROGRAMS` programs), each in a fresh interpreter (``sys.executable -m
benchmarks.X``, with ``--quick`` / ``--no-asdex`` passed on (to ``benchmarks.nlp`` as
``--no-casadi``: sparsediff timed alone), and ``--json FILE`` where the script supports
it), captures their Markdown output and prints one progress line per stage on stderr.  Then
it writes into ``--out-dir`` (default: this directory):

* ``results.md``: date, machine (CPU, cores, RAM), versions, the command, a headline table
  (per problem at its largest common size: detection time of sparsediff and asdex, evaluation
  time of sparsediff, asdex and dense JAX, with ratios, and the colors of both tools), then
  the full output of each benchmark under its own section;
* ``detection.png``, ``preparation.png``, ``evaluation.png``: log-log times against the input
  size ``n``, one panel per problem (needs matplotlib, ``pip install ".[plot]"``; without it
  the plots are skipped with a note);
* ``results.json``: the machine facts and the rows of the benchmarks that write JSON.

With ``--update-readme`` the headline table also replaces the text between
``<!-- headline:start -->`` and ``<!-- headline:end -->`` in the repository's README.md.

:func:`write_report` builds every output from the benchmark rows alone, so the report can be
regenerated (and tested) without running any benchmark.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import REPO_ROOT, child_env, fmt_seconds, have_module, log, markdown_table

__all__ = [
    "STAGES",
    "README_START",
    "README_END",
    "StageResult",
    "run_stage",
    "machine_info",
    "headline_rows",
    "format_headline",
    "write_report",
    "kept_stages",
    "update_readme",
    "main",
]

#: the benchmarks, in the order they run and appear in results.md
STAGES: tuple[str, ...] = (
    "detection", "coloring", "evaluation", "solvers", "nlp", "scaling", "fuzz",
)  # fmt: skip
STAGE_TITLES = {
    "detection": "Sparsity detection",
    "coloring": "Coloring",
    "evaluation": "Preparation and evaluation",
    "solvers": "Solvers: diffrax, optimistix, SciPy, Ipopt",
    "nlp": "Nonlinear programs: time to solution with Ipopt against CasADi",
    "scaling": "Scale-out: a row-decomposed PDE Jacobian on 1 to 8 devices",
    "fuzz": "Differential fuzzing of detection",
}
#: programs of the fuzz stage: (quick run, full run)
FUZZ_PROGRAMS = (500, 20_000)
README_START = "<!-- headline:start -->"
README_END = "<!-- headline:end -->"
#: packages whose versions go into the header
VERSIONS = (
    "sparsediff",
    "jax",
    "jaxlib",
    "numpy",
    "scipy",
    "numba",
    "asdex",
    "matplotlib",
    "lineax",
    "optimistix",
    "diffrax",
    "sparsax",
    "pardiso-mkl-jax",
    "splineax",
    "cyipopt",
)
#: tools of the plots: (label, colour, line style, marker)
_STYLE = {
    "sparsediff": ("C0", "-", "o"),
    "asdex": ("C1", "--", "s"),
    "dense JAX": ("C2", ":", "^"),
}
PLOTS = ("detection.png", "preparation.png", "evaluation.png")


# --------------------------------------------------------------------------------------------
# Running the benchmarks
# --------------------------------------------------------------------------------------------


@dataclass
class StageResult:
    """One benchmark run: its command, exit code, wall time, output and JSON rows."""

    name: str
    argv: list[str]
    rc: int
    wall: float
    stdout: str
    stderr_tail: str = ""
    rows: list[dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def command(self) -> str:
        """The command line, without the temporary ``--json`` file."""
        args = self.argv[1:]
        if "--json" in args:
            i = args.index("--json")
            args = args[:i] + args[i + 2 :]
        return shlex.join(["python", *args])

    def text(self) -> str:
        """The captured Markdown, with a note and the stderr tail when the run failed."""
        out = self.stdout.rstrip()
        if self.rc != 0:
            out += (
                f"\n\n**The benchmark failed (exit code {self.rc}).**  End of its stderr:\n\n"
                f"```text\n{self.stderr_tail.rstrip()}\n```"
            )
        return out


def supports_json(module: str) -> bool:
    """Whether ``python -m benchmarks.<module> --help`` lists a ``--json`` option."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{module}", "--help"],
            cwd=REPO_ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "--json" in proc.stdout


def stage_argv(name: str, quick: bool = False, no_asdex: bool = False) -> list[str]:
    """``[python, -m, benchmarks.<name>, flags...]`` (without ``--json``)."""
    argv = [sys.executable, "-m", f"benchmarks.{name}"]
    if name == "fuzz":  # its own flags: a number of programs, asdex only when asked
        argv += ["--n", str(FUZZ_PROGRAMS[0 if quick else 1]), "--workers", "0"]
        return argv if no_asdex else [*argv, "--asdex"]
    if quick:
        argv.append("--quick")
    if no_asdex:  # "time sparsediff only": the NLP benchmark's comparison is with CasADi
        argv.append("--no-casadi" if name == "nlp" else "--no-asdex")
    return argv


def run_stage(
    name: str,
    quick: bool = False,
    no_asdex: bool = False,
    tmpdir: str | os.PathLike[str] | None = None,
    verbose: bool = False,
) -> StageResult:
    """Runs ``benchmarks.<name>`` in a subprocess; returns its output and JSON rows.

    The child's stdout (the Markdown report) is captured; its stderr (progress lines) is
    passed through with ``verbose`` and otherwise captured, its tail kept for a failure note.
    """
    argv = stage_argv(name, quick, no_asdex)
    json_path = None
    if tmpdir is not None and supports_json(name):
        json_path = Path(tmpdir) / f"{name}.json"
        argv += ["--json", str(json_path)]
    t0 = time.perf_counter()
    proc = subprocess.run(
        argv,
        cwd=REPO_ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=None if verbose else subprocess.PIPE,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    tail = "\n".join((proc.stderr or "").splitlines()[-30:])
    res = StageResult(name, argv, proc.returncode, wall, proc.stdout or "", tail)
    if json_path is not None:
        try:
            with open(json_path) as fh:
                res.rows = json.load(fh)
        except (OSError, ValueError) as exc:
            res.notes.append(f"no JSON rows ({type(exc).__name__}: {exc})")
    return res


# --------------------------------------------------------------------------------------------
# Machine facts
# --------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        pass
    if dist == "sparsediff" and have_module("sparsediff"):
        # running from the source tree (PYTHONPATH=src): the version of pyproject.toml
        try:
            with open(REPO_ROOT / "pyproject.toml", "rb") as fh:
                return f"{tomllib.load(fh)['project']['version']} (source tree)"
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "source tree"
    return None


def _git_commit() -> str | None:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = (proc.stdout.strip() or None) if proc.returncode == 0 else None
    dirty = subprocess.run(  # the measured code differs from the commit's
        ["git", "diff", "--quiet", "HEAD", "--", "src", "benchmarks"], cwd=REPO_ROOT, check=False
    )
    return f"{commit} + uncommitted changes" if commit and dirty.returncode == 1 else commit


def machine_info() -> dict[str, Any]:
    """Date, CPU, core count, RAM, OS, Python and package versions (without importing jax)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    return {
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_bytes": _ram_bytes(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "jax_platforms": os.environ.get("JAX_PLATFORMS"),
        "git_commit": _git_commit(),
        "versions": {name: _version(name) for name in VERSIONS},
    }


def _machine_line(meta: Mapping[str, Any]) -> str:
    cores = meta.get("cores")
    usable = meta.get("usable_cores")
    core_text = f"{cores} cores" if cores else "? cores"
    if usable and cores and usable != cores:
        core_text += f" ({usable} usable)"
    ram = meta.get("ram_bytes")
    ram_text = f", {ram / 2**30:.0f} GiB RAM" if ram else ""
    return f"{meta.get('cpu', 'unknown CPU')}, {core_text}{ram_text}"


def _versions_line(meta: Mapping[str, Any]) -> str:
    parts = [f"Python {meta.get('python', '?')}"]
    for name, v in (meta.get("versions") or {}).items():
        parts.append(f"{name} {v if v else 'not installed'}")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# Headline table
# --------------------------------------------------------------------------------------------


def _eval_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The per-size rows of the evaluation benchmark (not the VJP / JVP cost rows)."""
    return [r for r in rows if r.get("table", "evaluation") == "evaluation"]


def _by_problem(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[int, Mapping[str, Any]]]:
    out: dict[str, dict[int, Mapping[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["problem"], {})[int(r["size"])] = r
    return out


def _num(x: Any) -> float | None:
    """``x`` as a finite float, or ``None``."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def _det_sd(r: Mapping[str, Any] | None) -> float | None:
    return None if r is None else _num(r.get("sd_time"))


def _det_asdex(r: Mapping[str, Any] | None) -> float | None:
    if r is None or r.get("asdex_status") != "ran":
        return None
    return _num(r.get("asdex_time"))


def headline_rows(
    detection_rows: Sequence[Mapping[str, Any]], evaluation_rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One dict per problem, at its largest common size.

    The size of a problem is the one that is in both benchmarks (when the problem is in both),
    then has the most asdex times (detection and evaluation), then is largest: the largest
    size at which everything the row compares was measured.  Each dict has ``problem``,
    ``kind``, ``size``, ``size_label``, ``n``, ``det_sd``, ``det_asdex``, ``det_ratio``
    (asdex / sparsediff), ``eval_sd``, ``eval_asdex``, ``eval_ratio`` (asdex / sparsediff),
    ``dense``, ``dense_ratio`` (dense / sparsediff), ``sd_colors``, ``asdex_colors`` and the
    source rows ``det_row`` / ``eval_row`` (``None`` when absent); missing values are ``None``.
    """
    det = _by_problem(detection_rows)
    ev = _by_problem(_eval_rows(evaluation_rows))
    out = []
    for problem in dict.fromkeys([*det, *ev]):
        d_rows, e_rows = det.get(problem, {}), ev.get(problem, {})

        def score(size: int, d_rows=d_rows, e_rows=e_rows) -> tuple[int, int, int]:
            d, e = d_rows.get(size), e_rows.get(size)
            common = int(d is not None and e is not None) if d_rows and e_rows else 0
            n_asdex = int(_det_asdex(d) is not None)
            n_asdex += int(e is not None and _num(e.get("asdex_eval")) is not None)
            return common, n_asdex, size

        size = max({*d_rows, *e_rows}, key=score)
        d, e = d_rows.get(size), e_rows.get(size)
        src = d if d is not None else e
        assert src is not None
        h: dict[str, Any] = {
            "problem": problem,
            "kind": src.get("kind"),
            "size": size,
            "size_label": src.get("size_label", str(size)),
            "n": src.get("n_in", src.get("n")),
            "det_sd": _det_sd(d),
            "det_asdex": _det_asdex(d),
            "eval_sd": None if e is None else _num(e.get("sd_eval")),
            "eval_asdex": None if e is None else _num(e.get("asdex_eval")),
            "dense": None if e is None else _num(e.get("dense_eval")),
            "sd_colors": None if e is None else e.get("sd_colors"),
            "asdex_colors": None if e is None else e.get("asdex_colors"),
            "det_row": d,
            "eval_row": e,
        }
        h["det_ratio"] = _ratio(h["det_asdex"], h["det_sd"])
        h["eval_ratio"] = _ratio(h["eval_asdex"], h["eval_sd"])
        h["dense_ratio"] = _ratio(h["dense"], h["eval_sd"])
        out.append(h)
    return out


def fmt_ratio(r: float | None) -> str:
    """A speed ratio: two decimals below 10, one below 100, none above."""
    if r is None:
        return "-"
    if r < 10:
        return f"{r:.2f}x"
    return f"{r:.1f}x" if r < 100 else f"{r:,.0f}x"


def _size_cell(h: Mapping[str, Any]) -> str:
    label, n = str(h["size_label"]), h["n"]
    if not n or label == f"n={n}" or (label.startswith("n=") and "^" in label):
        return label
    return f"{label} (n={n:,})"


def _det_asdex_cell(h: Mapping[str, Any]) -> str:
    if h["det_asdex"] is not None:
        return fmt_seconds(h["det_asdex"])
    d = h["det_row"]
    if d is None:
        return "-"
    status = d.get("asdex_status")
    return status if status in ("skipped", "error") else "-"


def _eval_cell(h: Mapping[str, Any], key: str, prefix: str) -> str:
    if h[key] is not None:
        return fmt_seconds(h[key])
    e = h["eval_row"]
    if e is None:
        return "-"
    if e.get(f"{prefix}_error"):
        return "error"
    if str(e.get(f"{prefix}_skip", "")).startswith("skipped"):
        return "skipped"
    return "-"


def _colors_cell(h: Mapping[str, Any]) -> str:
    sd, ad = h["sd_colors"], h["asdex_colors"]
    if sd is None and ad is None:
        return "-"
    e = h["eval_row"] or {}
    sd_text = "-" if sd is None else f"{sd:,}"
    if e.get("sd_forward") and e.get("sd_reverse"):
        sd_text += f" ({e['sd_forward']}+{e['sd_reverse']})"
    return f"{sd_text} / {'-' if ad is None else f'{ad:,}'}"


def format_headline(rows: Sequence[Mapping[str, Any]]) -> str:
    """The headline table (Markdown) of :func:`headline_rows`' output."""
    headers = ["problem", "size", "detect sd", "detect asdex", "asdex/sd", "eval sd"]
    headers += ["eval asdex", "asdex/sd", "eval dense", "dense/sd", "colors sd / asdex"]
    body = []
    for h in rows:
        kind = {"jacobian": "J", "hessian": "H"}.get(str(h["kind"]), "")
        body.append([
            f"{h['problem']} ({kind})" if kind else h["problem"], _size_cell(h),
            fmt_seconds(h["det_sd"]), _det_asdex_cell(h), fmt_ratio(h["det_ratio"]),
            _eval_cell(h, "eval_sd", "sd"), _eval_cell(h, "eval_asdex", "asdex"),
            fmt_ratio(h["eval_ratio"]), _eval_cell(h, "dense", "dense"),
            fmt_ratio(h["dense_ratio"]), _colors_cell(h),
        ])  # fmt: skip
    return markdown_table(headers, body, align="llrrrrrrrrr")


HEADLINE_LEGEND = (
    "J / H: Jacobian / Hessian.  detect: sparsity detection (`jacobian_sparsity` / "
    "`hessian_sparsity`); eval: one evaluation of the prepared sparse derivative (sparsediff "
    "BCOO output; asdex `jacobian_from_coloring` jitted; dense: `jax.jit(jax.jacfwd)` or "
    "`jax.hessian`).  Ratios above 1: sparsediff is faster.  Each problem is shown at the "
    "largest size that both benchmarks and both tools ran (where they did); `-`: not run."
)


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


def _import_pyplot() -> Any:
    """``matplotlib.pyplot`` with the Agg backend, or ``None`` (with a note) if missing."""
    try:
        import matplotlib
    except ImportError:
        log('note: matplotlib is not installed (pip install ".[plot]"): skipping the plots')
        return None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


Series = dict[str, list[tuple[float, float]]]


def _series(
    rows: Sequence[Mapping[str, Any]], tools: Mapping[str, str], n_key: str
) -> dict[str, Series]:
    """``{"problem (kind)": {tool: [(n, seconds), ...]}}`` from ``tools = {tool: row key}``."""
    out: dict[str, Series] = {}
    for r in rows:
        n = _num(r.get(n_key))
        kind = {"jacobian": "Jacobian", "hessian": "Hessian"}.get(str(r.get("kind")))
        per = out.setdefault(f"{r['problem']} ({kind})" if kind else r["problem"], {})
        for tool, key in tools.items():
            t = _num(r.get(key))
            if key == "asdex_time" and r.get("asdex_status") != "ran":
                t = None
            if n is not None and t is not None and t > 0:
                per.setdefault(tool, []).append((n, t))
    return out


def _decade_limits(values: Sequence[float]) -> tuple[float, float] | None:
    """Log-axis limits spanning at least one decade around ``values`` (readable ticks)."""
    if not values:
        return None
    lo, hi = min(values), max(values)
    if hi / lo >= 10:
        return None
    pad = math.sqrt(10 * lo / hi)
    return lo / pad, hi * pad


def _plot(plt: Any, data: Mapping[str, Series], path: Path, title: str, ylabel: str) -> None:
    from matplotlib import ticker

    problems = [p for p, s in data.items() if any(s.values())]
    ncols = min(3, max(1, len(problems)))
    nrows = max(1, math.ceil(len(problems) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.6 * ncols, 3.5 * nrows), squeeze=False, layout="constrained"
    )
    flat = [ax for row in axes for ax in row]
    for ax, problem in zip(flat, problems):
        for tool, points in data[problem].items():
            if not points:
                continue
            points = sorted(points)
            color, style, marker = _STYLE.get(tool, (None, "-", "o"))
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                linestyle=style,
                marker=marker,
                color=color,
                label=tool,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        points = [p for pts in data[problem].values() for p in pts]
        xlim = _decade_limits([p[0] for p in points])
        ylim = _decade_limits([p[1] for p in points])
        if xlim:
            ax.set_xlim(*xlim)
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())  # no crowded 2x10^3 3x10^3 ...
        if ylim:
            ax.set_ylim(*ylim)
        ax.set_title(problem)
        ax.set_xlabel("n (input elements)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    for ax in flat[len(problems) :]:
        ax.axis("off")
    if not problems:
        flat[0].text(0.5, 0.5, "no data", ha="center", va="center")
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(
    detection_rows: Sequence[Mapping[str, Any]],
    evaluation_rows: Sequence[Mapping[str, Any]],
    out_dir: Path,
    subtitle: str = "",
) -> list[Path]:
    """Writes the three PNG plots; returns their paths ([] without matplotlib)."""
    plt = _import_pyplot()
    if plt is None:
        return []
    ev = _eval_rows(evaluation_rows)
    sub = f"\n{subtitle}" if subtitle else ""
    det = {"sparsediff": "sd_time", "asdex": "asdex_time"}
    prep = {"sparsediff": "sd_prep", "asdex": "asdex_prep"}
    evals = {"sparsediff": "sd_eval", "asdex": "asdex_eval", "dense JAX": "dense_eval"}
    specs = [
        ("detection.png", _series(detection_rows, det, "n_in"), "Sparsity detection time"),
        ("preparation.png", _series(ev, prep, "n"), "Preparation time (detection + coloring)"),
        ("evaluation.png", _series(ev, evals, "n"), "Evaluation time of the prepared derivative"),
    ]
    paths = []
    for name, data, title in specs:
        path = out_dir / name
        _plot(plt, data, path, title + sub, "time [s]")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# Writing the report
# --------------------------------------------------------------------------------------------


_HEADING = re.compile(r"^(#{1,6}) ")


def demote_headings(text: str, top: int = 3) -> str:
    """Shifts the Markdown headings of ``text`` so that its highest level becomes ``top``."""
    lines = text.splitlines()
    levels = [len(m.group(1)) for m in map(_HEADING.match, lines) if m]
    if not levels:
        return text
    shift = top - min(levels)
    out = []
    for line in lines:
        m = _HEADING.match(line)
        if m:
            level = min(6, max(1, len(m.group(1)) + shift))
            line = "#" * level + line[len(m.group(1)) :]
        out.append(line)
    return "\n".join(out)


def _header(meta: Mapping[str, Any], quick: bool) -> list[str]:
    lines = ["# sparsediff benchmark results", ""]
    if quick:
        lines += ["*Quick run: small sizes, not meaningful as performance figures.*", ""]
    lines.append(f"- Date: {meta.get('date', '?')}")
    if meta.get("command"):
        lines.append(f"- Command: `{meta['command']}`")
    lines.append(f"- Machine: {_machine_line(meta)}; {meta.get('os', '?')}")
    lines.append(f"- Versions: {_versions_line(meta)}")
    if meta.get("git_commit"):
        stages = meta.get("stages") or {}
        older = sorted(
            n
            for n, i in stages.items()
            if i.get("commit", meta["git_commit"]) != meta["git_commit"]
        )
        lines.append(
            f"- Commit: {meta['git_commit']}"
            + (
                f" (measured by other runs: {', '.join(older)}; their sections name their commit)"
                if older
                else ""
            )
        )
    if meta.get("jax_platforms"):
        lines.append(f"- JAX_PLATFORMS={meta['jax_platforms']}")
    stages = meta.get("stages") or {}
    failed = [f"{name} (exit code {info['rc']})" for name, info in stages.items() if info.get("rc")]
    if failed:
        lines.append(f"- **FAILED: {', '.join(failed)}**: see the verdicts in those sections")
    lines.append("")
    return lines


def headline_block(headline: str, meta: Mapping[str, Any], quick: bool = False) -> str:
    """The text written between the README markers: a context line and the table."""
    run = "quick run" if quick else "full run"
    # the headline's rows come from the detection and evaluation stages: their commit and date
    stages = meta.get("stages") or {}
    source = stages.get("evaluation") or stages.get("detection") or {}
    commit_id = source.get("commit") or meta.get("git_commit")
    commit = f", commit {commit_id}" if commit_id else ""
    return (
        f"*{run}, {source.get('date') or meta.get('date', '?')}{commit}, {_machine_line(meta)}; "
        f"details in [benchmarks/results.md](benchmarks/results.md)*\n\n{headline}"
    )


def write_report(
    detection_rows: Sequence[Mapping[str, Any]],
    evaluation_rows: Sequence[Mapping[str, Any]],
    texts: Mapping[str, str],
    out_dir: str | os.PathLike[str],
    *,
    meta: Mapping[str, Any] | None = None,
    coloring_rows: Sequence[Mapping[str, Any]] | None = None,
    quick: bool = False,
) -> dict[str, Any]:
    """Writes results.md, results.json and the plots into ``out_dir`` from benchmark rows.

    Args:
        detection_rows: the rows of ``benchmarks.detection --json``.
        evaluation_rows: the rows of ``benchmarks.evaluation --json`` (VJP / JVP cost rows
            included; they are kept in results.json and left out of tables and plots).
        texts: the captured Markdown output of each benchmark, by name (``"detection"``,
            ``"coloring"``, ``"evaluation"``); each gets its own section, in that order.
        out_dir: the output directory (created if needed).
        meta: machine facts (:func:`machine_info`, default: those of this machine), plus
            optionally ``command`` (the command line) and ``stages`` (per benchmark:
            ``command``, ``rc``, ``wall``).
        coloring_rows: rows of the coloring benchmark, when it wrote JSON.
        quick: whether the rows come from a ``--quick`` run (noted in the header).

    Returns ``{"headline": Markdown table, "headline_rows": ..., "markdown": path,
    "json": path, "plots": [paths]}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(machine_info() if meta is None else meta)
    hl_rows = headline_rows(detection_rows, evaluation_rows)
    headline = format_headline(hl_rows)
    subtitle = f"{meta.get('date', '')}, {_machine_line(meta)}" + (" (quick run)" if quick else "")
    plots = write_plots(detection_rows, evaluation_rows, out, subtitle=subtitle)

    lines = _header(meta, quick)
    lines += ["## Headline", "", headline, "", HEADLINE_LEGEND, ""]
    if plots:
        lines += ["## Plots", ""]
        lines += [f"![{p.stem}]({p.name})" for p in plots]
        lines.append("")
    stages = meta.get("stages") or {}
    names = [s for s in STAGES if s in texts] + [s for s in texts if s not in STAGES]
    for name in names:
        lines += [f"## {STAGE_TITLES.get(name, name)}", ""]
        info = stages.get(name)
        if info:
            where = "".join(f", {k} {info[k]}" for k in ("commit", "date") if info.get(k))
            lines.append(
                f"`{info['command']}` (exit code {info['rc']}, {info['wall']:.0f} s{where})"
            )
            lines.append("")
        lines += [demote_headings(texts[name].strip()), ""]
    md_path = out / "results.md"
    md_path.write_text("\n".join(lines).rstrip() + "\n")

    def strip(h: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in h.items() if k not in ("det_row", "eval_row")}

    payload = {
        "meta": meta,
        "quick": quick,
        "headline": [strip(h) for h in hl_rows],
        "detection": list(detection_rows),
        "evaluation": list(evaluation_rows),
        "coloring": None if coloring_rows is None else list(coloring_rows),
        "texts": dict(texts),
    }
    json_path = out / "results.json"
    with open(json_path, "w") as fh:
        json.dump(payload, fh, indent=1, default=str)
    return {
        "headline": headline,
        "headline_block": headline_block(headline, meta, quick),
        "headline_rows": hl_rows,
        "markdown": md_path,
        "json": json_path,
        "plots": plots,
    }


def kept_stages(
    path: str | os.PathLike[str], run: set[str], quick: bool
) -> dict[str, tuple[str, list[dict[str, Any]] | None, dict[str, Any]]]:
    """The stages of an earlier report at ``path`` that this run does not redo.

    Returns ``{name: (markdown text, rows or None, stage info)}`` for each stage of that report
    with its text recorded, not in ``run``, from a run of the same kind (quick or full).
    A missing or unreadable file keeps nothing.
    """
    try:
        with open(path) as fh:
            old = json.load(fh)
    except (OSError, ValueError):
        return {}
    if not isinstance(old, dict) or bool(old.get("quick")) != quick:
        return {}
    texts = old.get("texts") or {}
    stages = (old.get("meta") or {}).get("stages") or {}
    kept = {}
    for name, text in texts.items():
        if name in run or name not in stages:
            continue
        info = dict(stages[name])
        info.setdefault("commit", (old.get("meta") or {}).get("git_commit"))
        info.setdefault("date", (old.get("meta") or {}).get("date"))
        kept[name] = (text, old.get(name) if name in ("detection", "evaluation", "coloring")
                      else None, info)  # fmt: skip
    return kept


def update_readme(path: str | os.PathLike[str], block: str) -> bool:
    """Replaces the text between the headline markers of ``path`` by ``block``.

    Returns ``False`` (and leaves the file alone) when the markers are missing or misordered.
    """
    p = Path(path)
    text = p.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return False
    new = text[: start + len(README_START)] + "\n" + block.strip() + "\n" + text[end:]
    if new != text:
        p.write_text(new)
    return True


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.report", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--quick", action="store_true", help="small sizes (a few minutes in all)")
    ap.add_argument("--no-asdex", action="store_true", help="time sparsediff only")
    ap.add_argument("--out-dir", default=str(REPO_ROOT / "benchmarks"),
                    help="where the results and plots go (default: benchmarks/)")  # fmt: skip
    ap.add_argument("--update-readme", action="store_true",
                    help="write the headline table between the markers of README.md")  # fmt: skip
    ap.add_argument("--readme", default=str(REPO_ROOT / "README.md"), help=argparse.SUPPRESS)
    ap.add_argument("--benchmarks", nargs="+", default=list(STAGES), choices=STAGES,
                    help="benchmarks to run (default: all)")  # fmt: skip
    ap.add_argument("--verbose", action="store_true", help="show the benchmarks' progress lines")
    ap.add_argument("--keep-others", action="store_true",
                    help="keep the stages not run from the existing results.json (each section "
                    "names the commit and date it was measured at)")  # fmt: skip
    ap.add_argument("--merge", nargs="+", metavar="RESULTS_JSON",
                    help="run nothing: assemble the report from the stages recorded in these "
                    "results.json files (later files win)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.merge:
        args.benchmarks = []
        args.keep_others = False
    command = shlex.join(
        ["python", "-m", "benchmarks.report", *(sys.argv[1:] if argv is None else argv)]
    )

    meta = machine_info()
    meta["command"] = command
    meta["stages"] = {}
    results: dict[str, StageResult] = {}
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sparsediff-report-") as tmp:
        for i, name in enumerate(STAGES, start=1):
            if name not in args.benchmarks:
                continue
            tag = f"[{i}/{len(STAGES)}] {name}"
            cmd = shlex.join(["python", *stage_argv(name, args.quick, args.no_asdex)[1:]])
            log(f"{tag}: running {cmd} ...")
            res = run_stage(name, args.quick, args.no_asdex, tmp, verbose=args.verbose)
            results[name] = res
            meta["stages"][name] = {
                "command": res.command,
                "rc": res.rc,
                "wall": res.wall,
                "commit": meta.get("git_commit"),
                "date": meta.get("date"),
            }
            status = "done" if res.rc == 0 else f"FAILED (exit code {res.rc})"
            rows = "" if res.rows is None else f", {len(res.rows)} rows"
            log(f"{tag}: {status} in {res.wall:.0f} s{rows}")
            for note in res.notes:
                log(f"{tag}: {note}")
            if res.rc != 0 and not args.verbose:
                log(res.stderr_tail)

    def rows_of(name: str) -> list[dict[str, Any]]:
        res = results.get(name)
        return [] if res is None or res.rows is None else res.rows

    log("writing the report ...")
    texts = {name: res.text() for name, res in results.items()}
    coloring = results.get("coloring")
    rows = {name: rows_of(name) for name in ("detection", "evaluation")}
    coloring_rows = None if coloring is None else coloring.rows
    sources = [Path(args.out_dir) / "results.json"] if args.keep_others else []
    kept: dict[str, tuple[str, list[dict[str, Any]] | None, dict[str, Any]]] = {}
    for src in [*sources, *(Path(m) for m in args.merge or [])]:
        found = kept_stages(src, set(results), args.quick)
        if args.merge and not found:
            log(f"note: {src} holds no stages recorded with their text")
        kept.update(found)
    if kept:
        for name, (text, stage_rows, info) in kept.items():
            texts[name] = text
            meta["stages"][name] = info
            if name in rows:
                rows[name] = stage_rows or []
            elif name == "coloring":
                coloring_rows = stage_rows
            log(f"kept {name} from commit {info.get('commit')} ({info.get('date')})")
    out = write_report(
        rows["detection"], rows["evaluation"], texts, args.out_dir, meta=meta,
        coloring_rows=coloring_rows, quick=args.quick,
    )  # fmt: skip
    written = [out["markdown"], out["json"], *out["plots"]]
    if args.update_readme:
        if update_readme(args.readme, out["headline_block"]):
            written.append(Path(args.readme))
        else:
            log(f"note: {args.readme} has no {README_START} / {README_END} markers; not updated")
    log(f"wrote {', '.join(str(p) for p in written)} ({time.perf_counter() - t_all:.0f} s)")
    print(out["headline"])
    return 0 if all(info.get("rc") == 0 for info in meta["stages"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
