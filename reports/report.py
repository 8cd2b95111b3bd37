"""``gaitbench report``: tables, figures and one HTML page from a run directory, without running any model.

:func:`build_report` reads ``RUN_DIR`` (:mod:`reports.run_dir`) and writes, into ``RUN_DIR/report`` by default::

    index.html          the self-contained page: summary, the trade-off, figures, tables, pictures, models, run record
    tables.md           every table in Markdown
    conclusions.md      the paper's numbered conclusions (sections 4.1-4.4), each checked against the run
    tables/NAME.md      each table in Markdown, CSV and LaTeX (booktabs); rates in percent
    tables/NAME.csv
    tables/NAME.tex
    figures/NAME.png    each figure (and .pdf, per ``formats``)
    pictures/...        the runner's strip images, copied
    report.json         what was written, the summary and what the run lacks

The folder is built beside the target and swapped in whole, so a report is never half old, half new; a target
that exists and is not an earlier report (no ``report.json``) is refused rather than replaced.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from benchmark.io import atomic_open, write_json
from benchmark.results import RESULTS
from reports import conclusions, figures, tables
from reports.html import Image, Section, esc, page, value_html
from reports.paper import paper_tables
from reports.run_dir import IMAGE_TYPES, PICTURES, RunData, load_run
from reports.summary import summarize
from reports.tables import EER, FRAME, SHOWN, SUCCESS, VIDEO, Table

FORMATS = ("png", "pdf")
MARKER = "report.json"
DEFAULT_OUT = "report"
#: what each of the runner's picture kinds shows (``pictures/index.json`` "figure")
PICTURE_KINDS = {
    "fig8": "Fig. 8: silhouettes; rows original, noise-gait, ST-GAN",
    "fig9": "Fig. 9: colour frames; rows original, noise-gait, ST-GAN",
    "fig17": "Fig. 17: ST-GAN silhouettes; rows alpha 0.2, 0.3, 0.4",
    "fig18": "Fig. 18: XOR of original and ST-GAN silhouettes; rows alpha 0.2, 0.3, 0.4 "
             "(white both, red only original, blue only anonymized)",
}


@dataclasses.dataclass(frozen=True)
class Report:
    """What :func:`build_report` wrote (paths inside ``out``), its summary and what the run lacks."""

    out: Path
    html: Path
    tables: tuple[Path, ...]
    figures: tuple[Path, ...]
    pictures: tuple[Path, ...]
    summary: tuple[str, ...]
    missing: tuple[str, ...]


def safe_name(text: str) -> str:
    """A file-name-safe form of ``text``: characters other than letters, digits, ``.``, ``_``, ``-`` become ``_``."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", text).strip(".")
    return name or "_"


def parse_formats(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"png,pdf"`` -> ``("png", "pdf")``; unknown formats raise naming them."""
    items = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    unknown = [t for t in items if t not in FORMATS]
    if unknown:
        raise ValueError(f"unknown figure format {unknown[0]!r}: choose from {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(items))


class _Writer:
    """Writes tables and figures under a folder and remembers what it wrote."""

    def __init__(self, root: Path, formats: Sequence[str]) -> None:
        self.root, self.formats = root, tuple(formats)
        self.tables: list[Path] = []
        self.figures: list[Path] = []
        self.markdown: list[str] = []

    def table(self, table: Table) -> Table:
        table = dataclasses.replace(table, name=safe_name(table.name))
        for suffix, text in ((".md", tables.to_markdown(table)), (".csv", tables.to_csv(table)),
                             (".tex", tables.to_latex(table))):
            path = self.root / "tables" / f"{table.name}{suffix}"
            with atomic_open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
            self.tables.append(path)
        self.markdown.append(tables.to_markdown(table))
        return table

    def figure(self, fig: Figure, name: str, caption: str) -> Image:
        name = safe_name(name)
        png = figures.figure_bytes(fig, "png")
        files = []
        for fmt in self.formats:
            path = self.root / "figures" / f"{name}.{fmt}"
            data = png if fmt == "png" else figures.figure_bytes(fig, fmt)
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_open(path, "wb") as fh:
                fh.write(data)
            self.figures.append(path)
            files.append(f"figures/{path.name}")
        return Image(png, "image/png", caption, tuple(files))


def _front_text(run: RunData, naturalness: str, scorer: str, metric: str, k: int,
                group: list[str] | None = None) -> str:
    """``"against zheng2011: a, b"``: the Pareto front of one panel of the trade-off figure."""
    what = f"top-{k} success rate" if metric == SUCCESS else tables.METRIC_NAMES[metric]
    parts = []
    frame = tables.merge_seeds(run.frame)  # as the figure draws it
    for evaluator in tables.evaluators(frame, metric):
        if group is not None and evaluator not in group:
            continue
        try:
            data = tables.tradeoff(frame, naturalness=naturalness, scorer=scorer, evaluator=evaluator,
                                   metric=metric, k=k)
        except ValueError:
            continue
        parts.append(f"{what} against {evaluator}: {', '.join(data.front) if data.front else 'none'}")
    return "; ".join(parts)


def _seed_merged(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The frame the figures draw (:func:`reports.tables.merge_seeds`: one variant per setting) and the sentence
    their captions add when that merged anything."""
    drawn = tables.merge_seeds(frame)
    if len(tables.variants(drawn)) == len(tables.variants(frame)):
        return frame, ""
    return drawn, ("Variants trained under several seeds (seeds=N) are drawn once: the mean over the seeds, with "
                   "the Student-t 95% interval over them; the tables list every seed.")


def _then(caption: str, sentence: str) -> str:
    """``caption`` followed by ``sentence`` (when there is one) as a sentence of its own."""
    return f"{caption.rstrip('.')}. {sentence}" if sentence else caption


def _tradeoff_section(run: RunData, w: _Writer) -> Section:
    frame = run.frame
    drawn, seeds = _seed_merged(frame)
    items: list[Table | Image] = []
    missing: list[str] = []
    scorers = [(m, e) for m in (FRAME, VIDEO) for e in tables.evaluators(frame, m)]
    has_success = 1 in {k for e in tables.evaluators(frame, SUCCESS) for k in tables.ks(frame, SUCCESS, e)}
    if not scorers:
        missing.append(f"No naturalness scores in this run (no {FRAME} or {VIDEO} rows): no trade-off to draw.")
    if not has_success:
        missing.append("No top-1 success rates in this run: no trade-off to draw.")
    # one figure per attack model when the run has several (its columns: the recognizers under that attacker)
    groups = tables.attack_groups(tables.evaluators(frame, SUCCESS))
    for metric, scorer in scorers if has_success else []:
        for attack, group in groups.items():
            named = attack if len(groups) > 1 else None
            try:
                # the title names the scorer; its whole label (what model, what settings) is in the caption
                fig = figures.tradeoff_figure(drawn, metric, scorer, recognizers=group, attack=named)
            except ValueError as error:
                missing.append(f"No trade-off for {scorer}{f' ({attack} attacker)' if named else ''}: {error}.")
                continue
            fronts = [_front_text(run, metric, scorer, SUCCESS, 1, group),
                      _front_text(run, metric, scorer, EER, 0, group)]
            name = f"tradeoff-{metric.replace('_', '-')}-{scorer}{f'-{attack}' if named else ''}"
            items.append(w.figure(fig, name, _then(
                f"Privacy against naturalness ({tables.METRIC_NAMES[metric]} by {run.label(scorer)}"
                f"{f', {attack} attacker' if named else ''}), each over all "
                "views and probe conditions, with 95% intervals in both directions. On the Pareto front (no other "
                f"anonymizer both at least as natural and at least as private): {'; '.join(f for f in fronts if f)}. "
                "Identity (the clean data, grey star) is drawn for reference and is not part of the front; the front "
                "is that of the point estimates, so points whose intervals overlap are not told apart by this run.",
                seeds)))
    items += [w.table(t) for t in tables.privacy_tables(frame, run.labels)]
    return Section("tradeoff", "The trade-off at a glance: privacy against naturalness", paragraphs=(
        "Each point is one anonymizer variant: how natural its output looks (x) against how often a recognizer "
        "fails to identify its probes (y, top-1 success rate; below it the EER where the run has it), over all "
        "views and probe conditions; up and to the right is better. Variants of one method that differ in one "
        "parameter (e.g. stgan's alpha) are one line, ordered by that parameter and annotated with it.",
    ), items=tuple(items), missing=tuple(missing))


def _success_section(run: RunData, w: _Writer) -> Section:
    frame = run.frame
    drawn, seeds = _seed_merged(frame)
    items: list[Table | Image] = []
    details: list[Table | Image] = []
    for evaluator in tables.evaluators(frame, SUCCESS):
        items.append(w.figure(figures.success_figure(drawn, evaluator, run.label(evaluator)),
                              f"fig11-success-{evaluator}",
                              _then(f"Fig. 11: success rate per view against {run.label(evaluator)}, methods side "
                                    "by side (probe conditions pooled, weighted by n); error bars: 95% intervals",
                                    seeds)))
        if len(tables.by_view(frame, metric=SUCCESS, evaluator=evaluator, k=1).columns) > 3:  # >= 3 views + all
            items.append(w.figure(figures.polar_figure(drawn, evaluator, run.label(evaluator)),
                                  f"fig11-polar-{evaluator}",
                                  _then(f"Fig. 11 by angle: top-1 success rate per view against "
                                        f"{run.label(evaluator)}; the angle is the view, the radius the rate (dashed: "
                                        "clean probes)", seeds)))
    for table in [*tables.success_tables(frame, run.labels), *tables.identification_tables(frame, run.labels)]:
        (items if _pooled(table, frame) else details).append(w.table(table))
    missing = () if items else ("No success rates in this run (no success_rate rows).",)
    return Section("success", "Success rate, EER and rank (Fig. 11)", paragraphs=(
        "Success rate: the share of anonymized probes a recognizer does not identify (top-1, top-3), same-view "
        "identification. identity = clean probes (1 - the recognizer's clean accuracy). EER: the recognizer's "
        "verification equal error rate; rank: the mean normalised rank of the true subject (0 = always first). "
        "Higher is more private for all three; EER and rank are 50% at chance (docs/metrics.md).",
    ), items=tuple(items), details=tuple(details), details_title="per probe condition (nm, bg, cl)", missing=missing)


def _pooled(table: Table, frame: pd.DataFrame) -> bool:
    """Whether a success table pools the conditions (its name does not end in one of them)."""
    return not any(table.name.endswith(f"-{c}") for c in set(frame["condition"]))


def _naturalness_section(run: RunData, w: _Writer) -> Section:
    frame = run.frame
    drawn, seeds = _seed_merged(frame)
    items: list[Table | Image] = []
    details: list[Table | Image] = []
    missing: list[str] = []
    by_name = {t.name: t for t in tables.naturalness_tables(frame, run.labels)}
    for metric, fig_no in ((FRAME, 13), (VIDEO, 14)):
        scorers = tables.evaluators(frame, metric)
        if not scorers:
            missing.append(f"No {tables.METRIC_NAMES[metric]}s in this run (no {metric} rows).")
        for evaluator in scorers:
            items.append(w.figure(figures.score_figure(drawn, evaluator, metric, run.label(evaluator)),
                                  f"fig{fig_no}-{metric.replace('_', '-')}-{evaluator}",
                                  _then(f"Fig. {fig_no}: {tables.METRIC_NAMES[metric]} per view by "
                                        f"{run.label(evaluator)}", seeds)))
            items.append(w.table(by_name.pop(f"{metric.replace('_', '-')}-{evaluator}")))
    details += [w.table(t) for t in by_name.values()]  # realism metrics
    return Section("naturalness", "Naturalness (Figs. 13-14)", paragraphs=(
        "Frame score: how much each frame looks like a person to a detector; video score: how much the clip "
        "looks like walking to an action classifier; means over sequences, 0 to 1, higher is more natural.",
    ), items=tuple(items), details=tuple(details), details_title="realism metrics (temporal change ratio, "
       "Fréchet distance of recognizer embeddings)", missing=tuple(missing))


def _mos_section(run: RunData, w: _Writer) -> Section:
    table = tables.mos_table(run.frame, run.labels)
    if table is None:
        return Section("mos", "Mean opinion score (Fig. 12)",
                       missing=("No survey (MOS) results in this run (no mos rows; see gaitbench survey).",))
    boxes = tables.mos_boxes(run.frame)
    items: list[Table | Image] = []
    if (boxes["view"] != -1).any():
        items.append(w.figure(figures.mos_figure(run.frame), "fig12-mos",
                              "Fig. 12: opinion scores per view: boxes q1 to q3 with the median, whiskers min to "
                              "max, triangles at the mean"))
    items.append(w.table(table))
    return Section("mos", "Mean opinion score (Fig. 12)", items=tuple(items))


def _alpha_section(run: RunData, w: _Writer) -> Section:
    frame = run.frame
    items: list[Table | Image] = []
    for evaluator in tables.evaluators(frame, SUCCESS):
        for method in tables.alpha_sweep(frame, metric=SUCCESS, evaluator=evaluator,
                                         k=tables.ks(frame, SUCCESS, evaluator)[0]):
            items.append(w.figure(figures.alpha_figure(frame, evaluator, run.label(evaluator), method),
                                  f"fig15-16-alpha-{method}-{evaluator}",
                                  f"Figs. 15-16: effect of alpha ({method}) on the success rate against "
                                  f"{run.label(evaluator)}"))
    verdicts: list[str] = []
    for table, lines in tables.dial_tables(frame, run.labels):
        items.append(w.table(table))
        verdicts += [f"{table.title.split(':')[0]}, {line}" for line in lines]
    items += [w.table(t) for t in tables.alpha_tables(frame, run.labels)]
    for table, lines in paper_tables(frame, run.labels):
        items.append(w.table(table))
        verdicts += lines
    missing = []
    if not items:
        missing.append("No alpha sweep in this run (no method with an alpha parameter).")
    elif not any(tables.alpha_sweep(frame, metric=m, evaluator=e) for m in (FRAME, VIDEO)
                 for e in tables.evaluators(frame, m)):
        missing.append("No frame or video scores of the alpha sweep in this run: Tables 2-3 cannot be made.")
    return Section("alpha", "Effect of alpha (Tables 2-3, Figs. 15-16)", paragraphs=(
        "Rows: alpha; runs that differ only in seed are averaged (their range is in the range tables). The dial "
        "tables give each measure over all views with its 95% interval (over the seeds where there are several); "
        "whether alpha orders them:", *verdicts,
    ), items=tuple(items), missing=tuple(missing))


#: the methods that may stand for the paper's ST-GAN in the conclusions, in this order
PROPOSED = ("stgan-paper", "stgan")


def _conclusions_section(run: RunData) -> tuple[Section, str, list[dict[str, str]]]:
    """The paper's numbered conclusions checked against the run, once per ST-GAN form it has: the section, its
    Markdown and the records for report.json."""
    present = set(run.frame["method"])
    markdown, records, markup = [], [], []
    for method in (m for m in PROPOSED if m in present):
        checked = conclusions.check_conclusions(run.frame, proposed=method)
        title = f"The paper's conclusions with {method} as ST-GAN and noise-gait as the baseline"
        markdown.append(conclusions.to_markdown(checked, title))
        records += [{"proposed": method, **dataclasses.asdict(c)} for c in checked]
        rows = "".join(f'<tr><td class="label">{esc(c.section)}</td><td class="label">{esc(c.claim)}</td>'
                       f'<td class="label"><b>{esc(c.verdict)}</b></td><td class="label">{esc(c.evidence)}</td></tr>'
                       for c in checked)
        markup.append(f'<table id="conclusions-{esc(method)}"><caption>{esc(title)}</caption><thead><tr>'
                      '<th class="label">section</th><th class="label">the paper\'s claim</th>'
                      '<th class="label">verdict</th><th class="label">this run</th></tr></thead>'
                      f"<tbody>{rows}</tbody></table>")
    missing = [] if markdown else ["No ST-GAN (stgan-paper or stgan) in this run: the paper's conclusions compare it."]
    return Section("conclusions", "The paper's conclusions, checked (sections 4.1-4.4)", paragraphs=(
        "Each numbered claim of the paper's evaluation against this run's numbers: ST-GAN at alpha 0.3 against "
        "noise-gait, the ignorant attackers zheng2011 and wu2017-mt, ST-GAN's alpha sweep. Point values decide "
        "(means over seeds); where the compared 95% intervals overlap the evidence says so. Also in "
        "conclusions.md.",), markup="\n".join(markup), missing=tuple(missing)), "\n".join(markdown), records


def _pictures_section(run: RunData, out: Path) -> tuple[Section, list[Path]]:
    items, copied, missing = [], [], []
    kinds = list(PICTURE_KINDS) + sorted({p.figure for p in run.pictures} - set(PICTURE_KINDS))
    for kind in kinds:
        mine = sorted((p for p in run.pictures if p.figure == kind), key=lambda p: (p.view is None, p.view or 0))
        if not mine and kind in PICTURE_KINDS:
            missing.append(f"No {PICTURE_KINDS[kind].split(':')[0]} pictures in this run.")
        for picture in mine:
            relative = picture.path.relative_to(run.root / PICTURES)
            target = out / PICTURES / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(picture.path, target)
            copied.append(target)
            view = f", view {picture.view}°" if picture.view is not None else ""
            if picture.caption:  # the runner's own caption says what it drew; the kind's description is above
                caption = f"{PICTURE_KINDS.get(kind, kind).split(':')[0]}{view}: {picture.caption}"
            else:
                caption = f"{PICTURE_KINDS.get(kind, kind)}{view}"
            items.append(Image(picture.path.read_bytes(), IMAGE_TYPES[picture.path.suffix.lower()], caption,
                               (f"{PICTURES}/{relative.as_posix()}",)))
    present = [PICTURE_KINDS[k] + "." for k in PICTURE_KINDS if any(p.figure == k for p in run.pictures)]
    return Section("pictures", "Pictures (Figs. 8, 9, 17, 18)", paragraphs=tuple(present), items=tuple(items),
                   missing=tuple(missing)), copied


def _models_section(run: RunData) -> tuple[Section, str]:
    frame = run.frame
    rows, lines = [], ["| evaluator | model | metrics | rows |", "|---|---|---|---|"]
    for evaluator in sorted(set(frame["evaluator"])):
        mine = frame[frame["evaluator"] == evaluator]
        metrics = ", ".join(sorted(set(mine["metric"])))
        label = run.labels.get(evaluator, "(no label in run.json)")
        rows.append(f'<tr><td class="label">{esc(evaluator)}</td><td class="label">{esc(label)}</td>'
                    f'<td class="label">{esc(metrics)}</td><td>{len(mine)}</td></tr>')
        lines.append(f"| {evaluator} | {label} | {metrics} | {len(mine)} |".replace("\n", " "))
    markup = ('<table><thead><tr><th class="label">evaluator</th><th class="label">model</th>'
              f'<th class="label">metrics</th><th>rows</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return Section("models", "Which model produced each number", paragraphs=(
        "Every table and figure names its evaluator; this is what each evaluator is (run.json labels).",
    ), markup=markup), "\n".join(lines) + "\n"


def _record_section(run: RunData) -> Section:
    record = {k: v for k, v in run.record.items() if k != "labels"}
    first = [k for k in ("git", "versions", "config", "seeds", "hardware", "stages", "stage_seconds", "seconds")
             if k in record]
    ordered = {k: record[k] for k in first + [k for k in record if k not in first]}
    files = [str(p.relative_to(run.root)) for p in run.sources]
    unshown = sorted(set(run.frame["metric"]) - set(SHOWN))
    notes = [f"Results read from {', '.join(files)} ({len(run.frame)} rows)."]
    if unshown:
        notes.append(f"Metrics in the results not shown in this report: {', '.join(unshown)}.")
    return Section("run", "Run record", paragraphs=tuple(notes), missing=run.problems,
                   markup=value_html(ordered) if ordered else "")


def _replace_dir(built: Path, out: Path) -> None:
    """Move ``built`` to ``out``, replacing an earlier report there."""
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.replace(out, old / out.name)
        os.replace(built, out)
        shutil.rmtree(old)
    else:
        os.replace(built, out)


def select_methods(frame: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """The rows of the variants ``methods`` names: ``NAME`` keeps every variant of a method, ``NAME[PARAMETERS]``
    one variant (parameters as in stage names and results.csv, ``stgan-paper[alpha=0.3]``). A name matching no
    row raises ``ValueError`` listing what the run has."""
    pairs = set(zip(frame["method"], frame["parameters"], strict=True))
    keep: set[tuple[str, str]] = set()
    for item in methods:
        name, bracket, rest = item.strip().partition("[")
        if bracket and not rest.endswith("]"):
            raise ValueError(f"--methods: {item!r} is not NAME or NAME[PARAMETERS]")
        wanted = {(m, p) for m, p in pairs if m == name and (not bracket or p == rest[:-1])}
        if not wanted:
            have = sorted(f"{m}[{p}]" if p else m for m, p in pairs)
            close = difflib.get_close_matches(item.strip(), [*sorted({m for m, _ in pairs}), *have], n=3)
            raise ValueError(f"--methods: the run has no {item.strip()!r}"
                             + (f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "")
                             + f" (it has {', '.join(have)})")
        keep |= wanted
    mask = [pair in keep for pair in zip(frame["method"], frame["parameters"], strict=True)]
    return frame[mask].reset_index(drop=True)


def build_report(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
                 formats: Iterable[str] = FORMATS, methods: Sequence[str] | None = None) -> Report:
    """Write the report of ``run_dir`` into ``out`` (default ``RUN_DIR/report``); see the module docstring.

    Parameters
    ----------
    run_dir : path
        A run directory with ``results.csv`` (and optionally ``results-*.csv``, ``run.json``, ``pictures/``).
    out : path, optional
        The report folder; replaced whole if it holds an earlier report, refused if it holds anything else.
    formats : iterable of str
        Figure files to write: ``png`` and/or ``pdf`` (the HTML page embeds PNG either way).
    methods : sequence of str, optional
        Only these variants (:func:`select_methods`), e.g. the paper's figures with only the methods it draws;
        the pictures are the run's all the same.

    Raises
    ------
    FileNotFoundError
        ``run_dir`` or its ``results.csv`` does not exist.
    ValueError
        A results file lacks columns or holds non-numbers, an unknown format, or ``out`` holds other files.
    """
    formats = parse_formats(formats)
    run = load_run(run_dir)
    if methods:
        run = dataclasses.replace(run, frame=select_methods(run.frame, methods))
    out = Path(out) if out is not None else run.root / DEFAULT_OUT
    if out.resolve() == run.root.resolve():
        raise ValueError(f"the report cannot be written into the run directory itself ({out}); use a subfolder")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise ValueError(f"{out} exists and is not a gaitbench report (no {MARKER}); choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        w = _Writer(built, formats)
        summary = summarize(run.frame, run.labels)
        pictures, copied = _pictures_section(run, built)
        models, models_md = _models_section(run)
        claims, claims_md, claim_records = _conclusions_section(run)
        sections = [_tradeoff_section(run, w), _success_section(run, w), _naturalness_section(run, w),
                    _mos_section(run, w), _alpha_section(run, w), claims, pictures, models, _record_section(run)]
        missing = [m for s in sections for m in s.missing]
        title = f"gaitbench report: {run.root.resolve().name}" + (f" ({', '.join(methods)})" if methods else "")
        git = run.record.get("git")
        footer = f"Made by gaitbench report from {RESULTS} of {run.root.resolve().name}" + (
            f" (run at commit {git})" if git else "") + "; every number is read from the results, no model was run."
        html_path = built / "index.html"
        with atomic_open(html_path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(page(title, summary, sections, footer))
        with atomic_open(built / "tables.md", "w", encoding="utf-8", newline="\n") as fh:
            fh.write(f"# {title}\n\n## Summary\n\n" + "".join(f"- {s}\n" for s in summary) + "\n## Tables\n\n"
                     + "\n".join(w.markdown) + "\n## Models\n\n" + models_md)
        with atomic_open(built / "conclusions.md", "w", encoding="utf-8", newline="\n") as fh:
            fh.write(f"# {title}: the paper's conclusions\n\n"
                     + (claims_md or "".join(f"{m}\n" for m in claims.missing)))
        relative = lambda paths: [p.relative_to(built).as_posix() for p in paths]  # noqa: E731
        write_json(built / MARKER, {
            "run": str(run_dir), "formats": list(formats), "methods": list(methods or []), "summary": summary,
            "missing": missing,
            "tables": relative(w.tables), "figures": relative(w.figures), "pictures": relative(copied),
            "conclusions": claim_records,
        })
        _replace_dir(built, out)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    moved = lambda paths: tuple(out / p.relative_to(built) for p in paths)  # noqa: E731
    return Report(out=out, html=out / "index.html", tables=moved(w.tables), figures=moved(w.figures),
                  pictures=moved(copied), summary=tuple(summary), missing=tuple(missing))


def report_tables(run_dir: str | os.PathLike[str]) -> list[Table]:
    """Every table of a run's report, without writing anything (for scripts and notebooks)."""
    run = load_run(run_dir)
    return [*tables.all_tables(run.frame, run.labels), *(t for t, _ in paper_tables(run.frame, run.labels))]

