"""Command ``gaitbench report RUN_DIR``: tables, figures and one HTML page from a run's results.

The report only reads ``RUN_DIR`` (``results.csv``, ``results-*.csv``, ``run.json``, ``pictures/``); it never
runs a model, so it is fast and needs no GPU. See :mod:`reports.report` for what is written.
"""

from __future__ import annotations

import argparse


def _formats(text: str) -> tuple[str, ...]:
    from reports.report import parse_formats

    try:
        return parse_formats(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="tables (Markdown, CSV, LaTeX), figures (PNG, PDF) and one HTML page from a run directory",
        description="Read a run directory (results.csv and results-*.csv, run.json, pictures/) and write the "
        "paper's figures and tables regenerated from it: success rate per view per recognizer (Fig. 11), frame "
        "and video scores per view (Figs. 13-14), the alpha sweep (Tables 2-3, Figs. 15-16), MOS box plots "
        "(Fig. 12) when survey results exist and the runner's strip pictures (Figs. 8, 9, 17, 18), with a "
        "summary of which method anonymizes best, at which view, at what cost in naturalness. Runs no model.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by gaitbench run")
    p.add_argument("--out", help="report folder (default RUN_DIR/report); an earlier report there is replaced")
    p.add_argument("--formats", type=_formats, default=("png", "pdf"), metavar="LIST",
                   help="figure files to write, comma-separated: png, pdf (default png,pdf)")
    p.add_argument("--methods", type=lambda text: [t for t in text.split(",") if t.strip()], metavar="LIST",
                   help="only these variants, comma-separated: NAME (every variant) or NAME[PARAMETERS] as in stage "
                   "names, e.g. identity,noise-gait,stgan-paper[alpha=0.3] for the paper's Figs. 11, 13 and 14")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from reports.report import build_report

    report = build_report(args.run_dir, args.out, args.formats, methods=args.methods)
    for sentence in report.summary:
        print(f"- {sentence}")
    print(f"report: {report.html} ({len(report.tables)} table files, {len(report.figures)} figure files, "
          f"{len(report.pictures)} pictures)")
    return 0
