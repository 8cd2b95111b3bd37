"""Command ``gaitbench survey build|serve|analyze``: a naturalness rating study (MOS), as in the paper's Fig. 12.

- ``build DIR... --out SURVEY``: stimuli from anonymized datasets (and the original, as hidden references),
  balanced over methods and views, encoded as browser-playable clips; ``SURVEY/survey.json``.
- ``serve SURVEY``: the rating web app (prints the link to hand out; ``--port 0`` picks a free port;
  ``--invited-only`` takes only the tokens made by ``invite``).
- ``invite SURVEY --raters N``: N personal links for invited raters (tokens stored in the response file).
- ``load SURVEY``: a bounded load test on the loopback interface (requests/s, tail latency, keep-alive ratio).
- ``analyze SURVEY``: rater screening, MOS per method and view with quartiles and a two-way bootstrap interval;
  ``SURVEY/results-mos.csv`` (tidy rows) and its run record, and tables on stdout.

See docs/survey.md and :mod:`benchmark.survey`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any, TypeVar

from benchmark.cli.args import add_conditions, add_seed, add_views, non_negative_int, positive_int

C = TypeVar("C")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


def _port(text: str) -> int:
    value = non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 1..65535 (or 0 for a free one), got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {value}")
    return value


def _config(cls: type[C], path: str | None, overrides: dict[str, Any]) -> C:
    """``cls`` from the TOML file ``path`` (or defaults), with the command line's given options on top."""
    from benchmark.config import load_toml

    base = load_toml(cls, path) if path else cls()
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})  # type: ignore[type-var]


def register(sub: argparse._SubParsersAction) -> None:
    survey = sub.add_parser("survey", help="run a naturalness rating study (MOS): build, serve, analyze",
                            description="A naturalness rating study like the paper's (Fig. 12). See docs/survey.md.")
    survey_sub = survey.add_subparsers(dest="survey_command", metavar="SURVEY_COMMAND")
    survey.set_defaults(func=lambda args: (survey.print_help(), 2)[1])

    p = survey_sub.add_parser(
        "build", help="choose stimuli and encode browser-playable clips",
        description="Choose stimuli from anonymized datasets (folders with anonymization.json), balanced over "
        "methods and views, plus hidden references from the original dataset (the one folder without "
        "anonymization.json) and bad anchors made from it; encode H.264 (or VP9) clips with PyAV and write "
        "OUT/survey.json. A rerun encodes only missing clips. Options override the --config TOML.")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="anonymized datasets, and optionally the original")
    p.add_argument("--out", required=True, help="survey folder to write")
    p.add_argument("--config", help="TOML with BuildConfig keys (clips, references, anchors, views, ...)")
    p.add_argument("--clips", type=positive_int, help="test clips in all, split equally over methods (default 60)")
    p.add_argument("--references", type=non_negative_int,
                   help="hidden reference clips (default: one per view when the original is given)")
    p.add_argument("--anchors", type=non_negative_int, help="anchor clips (default 4)")
    add_views(p, "views all test datasets have")
    add_conditions(p, "all")
    add_seed(p, None, "seed of the stimulus choice and anchors; default 0 unless --config sets it")
    p.add_argument("--codec", choices=("auto", "h264", "vp9"), help="clip codec (default auto: H.264, else VP9)")
    p.add_argument("--crf", type=int, help="encoder quality, 0..51, lower is better (default 20)")
    p.set_defaults(func=cmd_build)

    p = survey_sub.add_parser(
        "serve", help="the rating web app (prints the link for raters)",
        description="Serve the survey in SURVEY to raters' browsers. Each rater opens /new, gets a token and "
        "rates every clip in an order of their own; answers go to a SQLite file. Ctrl-C stops.")
    p.add_argument("survey", metavar="SURVEY", help="survey folder (from gaitbench survey build)")
    p.add_argument("--db", help="response file (default SURVEY/responses.sqlite)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for raters on other machines)")
    p.add_argument("--port", type=_port, default=8000, help="port, 1..65535 (default 8000; 0 picks a free one)")
    p.add_argument("--min-watch", type=_fraction, default=0.9,
                   help="fraction of a clip's duration a play must last to count as watched (default 0.9)")
    p.add_argument("--quiet", action="store_true", help="do not log requests")
    p.add_argument("--max-connections", type=positive_int, default=64,
                   help="connections served at once, one thread each; more wait briefly, then get 503 (default 64)")
    p.add_argument("--timeout", type=_seconds, default=10.0,
                   help="seconds a request may take to arrive, and an idle connection stays open (default 10)")
    p.add_argument("--invited-only", action="store_true",
                   help="refuse new raters: only the links made by 'gaitbench survey invite' work")
    p.add_argument("--new-raters-per-hour", type=non_negative_int, default=30,
                   help="otherwise, new raters one address may make per hour; 429 beyond (default 30; 0 = no limit)")
    p.add_argument("--allowed-host", action="append", metavar="NAME",
                   help="a name raters' browsers use for this server (the Host header); repeat for several. "
                   "Default: localhost, 127.0.0.1 and ::1 when --host is a loopback address, else any")
    p.set_defaults(func=cmd_serve)

    p = survey_sub.add_parser(
        "invite", help="personal links for invited raters (for serve --invited-only)",
        description="Make rater tokens in the response file and print one link per invited rater. Serve with "
        "--invited-only so that nobody else can take part; hand each link to one person.")
    p.add_argument("survey", metavar="SURVEY", help="survey folder (from gaitbench survey build)")
    p.add_argument("--raters", type=positive_int, required=True, help="how many links to make")
    p.add_argument("--db", help="response file (default SURVEY/responses.sqlite)")
    p.add_argument("--url", default="http://127.0.0.1:8000",
                   help="the server's address as raters reach it, for the links (default http://127.0.0.1:8000)")
    p.add_argument("--out", help="also write the links to this CSV file (columns token, link)")
    p.set_defaults(func=cmd_invite)

    p = survey_sub.add_parser(
        "load", help="load-test the server on this machine: requests/s and tail latency",
        description="Serve SURVEY on 127.0.0.1 with a temporary response file and run --raters simulated raters "
        "at once (token, state, then play, end and rate --clips clips each; the watch rule relaxed), then one "
        "client's sequential requests on one kept-alive connection against a new connection each. Prints "
        "figures (medians over --repeats); the study's own answers are not touched.")
    p.add_argument("survey", metavar="SURVEY", help="survey folder (from gaitbench survey build)")
    p.add_argument("--raters", type=positive_int, default=50, help="raters in parallel (default 50)")
    p.add_argument("--clips", type=positive_int, default=10, help="clips each rater rates (default 10)")
    p.add_argument("--requests", type=positive_int, default=200,
                   help="sequential requests per keep-alive measurement (default 200)")
    p.add_argument("--repeats", type=positive_int, default=5, help="repeats of that measurement (default 5)")
    p.set_defaults(func=cmd_load)

    p = survey_sub.add_parser(
        "analyze", help="screen raters; MOS per method and view with quartiles and bootstrap intervals",
        description="Read SURVEY/survey.json and the response file; screen raters; write tidy rows (metrics mos, "
        "mos_q1, mos_median, mos_q3, mos_min, mos_max; evaluator survey; condition all; view -1 = all views) "
        "and print tables. Options override the --config TOML.")
    p.add_argument("survey", metavar="SURVEY", help="survey folder")
    p.add_argument("--db", help="response file (default SURVEY/responses.sqlite)")
    p.add_argument("--out", help="results CSV (default SURVEY/results-mos.csv)")
    p.add_argument("--config", help="TOML with AnalysisConfig keys")
    p.add_argument("--min-reference-mean", type=float,
                   help="drop raters whose mean on the hidden references is below this (default 3; 0 = off)")
    p.add_argument("--no-anchor-check", dest="anchor_check", action="store_false", default=None,
                   help="keep raters who rate the anchors no lower than the references")
    p.add_argument("--min-completion", type=_fraction,
                   help="drop raters who rated fewer than this fraction of the clips (default 0.5)")
    p.add_argument("--boot", type=positive_int, help="bootstrap replicates per cell (default 2000)")
    add_seed(p, None, "bootstrap seed; default 0 unless --config sets it")
    p.set_defaults(func=cmd_analyze)


def cmd_build(args: argparse.Namespace) -> int:
    from benchmark.survey.build import BuildConfig, build_survey

    config = _config(BuildConfig, args.config, {
        "clips": args.clips, "references": args.references, "anchors": args.anchors, "views": args.views,
        "conditions": args.conditions, "seed": args.seed, "codec": args.codec, "crf": args.crf})
    document = build_survey(args.dirs, args.out, config)
    print(f"survey: {len(document['stimuli'])} clips in {Path(args.out)} ({document['encoded']} encoded now); "
          f"serve it with: gaitbench survey serve {args.out}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from benchmark.survey.server import serve

    try:
        serve(args.survey, args.db, args.host, args.port, min_fraction=args.min_watch, quiet=args.quiet,
              max_workers=args.max_connections, timeout=args.timeout, invited_only=args.invited_only,
              new_raters_per_hour=args.new_raters_per_hour,
              allowed_hosts=tuple(args.allowed_host) if args.allowed_host else None)
    except OSError as exc:  # cannot listen there (port in use, no such address), a missing clip, ...
        print(f"gaitbench survey serve: error: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


def cmd_invite(args: argparse.Namespace) -> int:
    import csv
    import io

    from benchmark.io import atomic_open
    from benchmark.survey.definition import DEFAULT_DB, load_survey
    from benchmark.survey.server import invite
    from benchmark.survey.store import Store

    survey = load_survey(args.survey)
    url = args.url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        print(f"gaitbench survey invite: error: --url must start with http:// or https://, got {args.url!r}",
              file=sys.stderr)
        return 2
    store = Store(Path(args.db) if args.db else Path(args.survey) / DEFAULT_DB, survey.survey_id)
    try:
        tokens = invite(store, args.raters)
        total = len(store.raters())
    finally:
        store.close()
    links = [f"{url}/?t={token}" for token in tokens]
    if args.out:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["token", "link"])
        writer.writerows(zip(tokens, links, strict=True))
        with atomic_open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text.getvalue())
    print("\n".join(links))
    print(f"{len(tokens)} links made ({total} raters in the response file)"
          + (f"; written to {args.out}" if args.out else ""), file=sys.stderr)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from benchmark.survey.load import load_test

    report = load_test(args.survey, raters=args.raters, clips=args.clips, requests=args.requests,
                       repeats=args.repeats)
    print("\n".join(report.lines()))
    for error in report.errors[:5]:
        print(f"  error: {error}", file=sys.stderr)
    return 1 if report.errors else 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from benchmark.record import write_run_record
    from benchmark.results import write_csv
    from benchmark.survey.analyze import (
        AnalysisConfig,
        analyze_ratings,
        format_mos_tables,
        format_screening,
        screening_records,
    )
    from benchmark.survey.definition import DEFAULT_DB, load_survey
    from benchmark.survey.store import read_ratings

    config = _config(AnalysisConfig, args.config, {
        "min_reference_mean": args.min_reference_mean, "anchor_check": args.anchor_check,
        "min_completion": args.min_completion, "n_boot": args.boot, "seed": args.seed})
    survey = load_survey(args.survey)
    db = Path(args.db) if args.db else Path(args.survey) / DEFAULT_DB
    ratings = read_ratings(db, survey.survey_id)
    rows, screening = analyze_ratings(survey, ratings, config)
    out = Path(args.out) if args.out else Path(args.survey) / "results-mos.csv"
    frame = write_csv(rows, out)
    kept = int(screening["kept"].sum())
    write_run_record(out.with_name(out.stem + ".run.json"), survey=str(survey.root), survey_id=survey.survey_id,
                     db=str(db), config=dataclasses.asdict(config), ratings=len(ratings),
                     raters=len(screening), raters_kept=kept, screening=screening_records(screening))
    print(f"raters: {kept} of {len(screening)} kept\n{format_screening(screening)}\n")
    print(format_mos_tables(frame))
    print(f"\nwrote {out}")
    return 0
