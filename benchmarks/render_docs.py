"""`make docs`: README's measured tables, docs/benchmarks.md and every model card, rendered from the records.

A generated part of a page lies between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`; this script
rewrites exactly those parts (and docs/models/ whole) and nothing else. `--check` writes nothing and fails
when a page differs from what the records render (tests/test_docs.py runs it).
"""

from __future__ import annotations

import argparse
import functools
import re
from pathlib import Path

from common import ROOT

from sections import SECTIONS
from zoo import records
from zoo.cards import GALLERY, band_text, card, figure, provenance, runs_table
from zoo.catalog import list_models
from zoo.errors import UserError
from zoo.tables import markdown

BLOCK = re.compile(r"(<!-- generated:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.S)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@functools.cache
def models() -> dict:
    return list_models()


def models_table() -> str:
    rows = []
    for model in models():
        facts = models()[model].about
        default = records.measured(f"default_{model}")
        if default and facts["metric"] in default["band"]:
            shown = f"{facts['metric']} {band_text(default['band'][facts['metric']])}"
        else:
            shown = f"not measured yet (`make results ONLY=default_{model}`)"
        rows.append([f"[`{model}`](docs/models/{model}.md)", facts["slide"], f"`data={facts['data']}`", shown])
    return markdown(["model (card)", "lecture slide", "its data", "CPU default, seeds 1-3"], rows)


def gallery() -> str:
    pictures = sorted((ROOT / GALLERY).glob("*.png"))
    if not pictures:
        return "No pictures yet: `make results` draws them (one default run per model).\n"
    cells = [f"![{p.stem}](docs/gallery/{p.name})<br>`{p.stem}`" for p in pictures]
    rows = [cells[i : i + 4] + [""] * (4 - len(cells[i : i + 4])) for i in range(0, len(cells), 4)]
    return markdown([""] * 4, rows)


def sections_table() -> str:
    rows = [[f"`make section-{name}`", shows, f"[`sections/{name}.py`](sections/{name}.py)"]
            for name, shows in SECTIONS.items()]  # fmt: skip
    return markdown(["command", "what its report shows", "code"], rows)


def variants_table(record: dict) -> list[str]:
    """A paired-runs benchmark: each variant's median ratio to the hand-written loop, and its seconds."""
    rows = [[label, figure(v["ratio"]), figure(v["seconds"]), figure(v["hand_seconds"]),
             figure(v["metric"]) if records.numeric(v.get("metric")) else ""]
            for label, v in record["variants"].items()]  # fmt: skip
    header = ["variant", "time ratio to the hand loop", "seconds", "hand loop seconds", record.get("metric", "")]
    return [f"`{record['command'].strip()}`, {record.get('device', '')}, median of {record['repeats']}:", "",
            *markdown(header, rows).splitlines()]  # fmt: skip


def record_block(name: str, metrics: list[str] | None = None) -> str:
    record = records.measured(name)
    if record is None:
        return f"Not measured yet: `make results ONLY={name}`.\n"
    if "variants" in record:
        body = variants_table(record)
    elif "verdicts" in record:
        body = [*record["verdicts"], "", f"The section took {figure(record['seconds'])} s."]
    else:
        body = runs_table(record["runs"], metrics)
    return "\n".join([f"{record['what']}; {provenance(record)}.", "", *body]) + "\n"


def section_verdicts() -> str:
    return "\n".join(f"### `make section-{n}`\n\n{record_block(f'section_{n}')}" for n in SECTIONS)


def claims_ledger() -> str:
    """Every claim of the ledger with its verdicts as the records hold them (sections/ledger.py)."""
    from sections.ledger import claims, decided

    entries, lines, tally = claims(), [], {"holds": 0, "does not hold": 0, "open": 0, "not empirical": 0}
    for number, claim in enumerate(entries, 1):
        lines += [f"### {number}. {claim.slide}", "", f"> {claim.claim}", ""]
        if claim.not_empirical:
            tally["not empirical"] += 1
            lines += [f"Not empirical: {claim.not_empirical}.", ""]
            continue
        if claim.open:
            tally["open"] += 1
            lines += [f"Not decided yet; what would decide it: {claim.open}.", ""]
            continue
        verdicts = [(name, decided(name)) for name in claim.verdicts]
        holds = [v["holds"] for _, v in verdicts if v is not None]
        tally["holds" if holds and all(holds) else "does not hold"] += 1
        for name, verdict in verdicts:
            section = name.split(".")[0]
            if verdict is None:
                lines.append(f"- `{name}`: not measured yet (`make results ONLY=section_{section}`)")
                continue
            lines.append(f"{verdict['line']}; `make section-{section}`")
        lines.append("")
    summary = (f"{len(entries)} claims: {tally['holds']} hold in every verdict that decides them, "
               f"{tally['does not hold']} do not hold in at least one (or are not measured yet), "
               f"{tally['open']} are not decided yet, {tally['not empirical']} are not empirical.")  # fmt: skip
    return "\n".join([summary, "", *lines])


def band_test_time() -> str:
    """What the slow band test costs: one CPU-default run per measured model (its first seed's fit)."""
    measured = [records.measured(f"default_{m}") for m in models()]
    seconds = sum(r["runs"][0]["metrics"]["fit_seconds"] for r in measured if r)
    count = sum(1 for r in measured if r)
    return (f"The slow band test reruns the first seed of the {count} measured CPU defaults: about "
            f"{seconds / 60:.0f} min of fitting on the records' machines.\n")  # fmt: skip


def suite_time() -> str:
    record = records.measured("suite")
    if record is None:
        return "Not measured yet: `make results ONLY=suite`.\n"
    run = record["runs"][0]["metrics"]
    return (f"`make test` from a fresh clone (installing included): {run['seconds'] / 60:.1f} min, "
            f"{int(run['passed'])} tests passed; {provenance(record)}.\n")  # fmt: skip


def all_records() -> str:
    lines = []
    for name in records.names():
        if name in ("smoke", "predict", "tables_real") or name.startswith(("default_", "section_")):
            continue
        lines += [f"### `{name}`", "", *record_block(name).splitlines(), ""]
    lines += [
        "The CPU defaults and smoke figures are on each model's card (docs/models/), the sections' "
        "verdicts on the sections page (sections.md).",
        "",
    ]
    return "\n".join(lines)


def latency_table() -> str:
    """The record `predict`: each default model's prediction latency, PyTorch eager against onnxruntime."""
    record = records.measured("predict")
    if record is None:
        return "Not measured yet: `make results ONLY=predict`.\n"
    keys = ("eager_ms_batch1", "onnx_ms_batch1", "eager_ms_batch64", "onnx_ms_batch64", "max_abs_difference")
    rows = [[f"`{run['label']}`", f"{int(run['metrics']['n_params']):,}",
             *(figure(run["metrics"][key]) if key in run["metrics"] else "not exported" for key in keys)]
            for run in record["runs"]]  # fmt: skip
    header = ["model", "parameters", "eager, 1 input (ms)", "onnxruntime, 1 input (ms)", "eager, 64 inputs (ms)",
              "onnxruntime, 64 inputs (ms)", "ONNX vs PyTorch, max abs difference"]  # fmt: skip
    return "\n".join([f"{record['what']}, median of {record['repeats']} calls; {provenance(record)}.", "",
                      markdown(header, rows)])  # fmt: skip


def real_tables() -> str:
    """The record `tables_real`: per table, the MLP (its table recipe) against HistGradientBoosting and a linear fit."""
    record = records.measured("tables_real")
    if record is None:
        return "Not measured yet: `python benchmarks/tables.py` (records `tables_real`).\n"
    rows = []
    for label, band in record["bands"].items():
        rows.append([label, str(int(band["rows"]["mean"])), *(band_text(band[f"{who}/test/score"])
                     for who in ("zoo", "hgb", "linear")), band_text(band["zoo/seconds"])])  # fmt: skip
    header = ["table (test metric)", "rows", "zoo mlp (recipe mlp_table)", "HistGradientBoosting", "linear model",
              "zoo seconds (whole run)"]  # fmt: skip
    return "\n".join([f"{record['what']}; {provenance(record)}.", "", markdown(header, rows)])


def run_folder_layout() -> str:
    from zoo.run_folder import RunFolder

    width = max(map(len, RunFolder.LAYOUT)) + 2
    rows = [f"  {name:<{width}}{what}" for name, what in RunFolder.LAYOUT.items()]
    return "\n".join(["```", "outputs/train/<date>_<time>_<model>_<data>/", *rows, "```"])


BLOCKS = {
    "models": models_table,
    "gallery": gallery,
    "sections": sections_table,
    "real_data": lambda: record_block("quality_resnet") + "\n" + record_block("quality_word"),
    "tables": lambda: record_block("tables"),
    "bands": band_test_time,
    "suite": suite_time,
    "records": all_records,
    "section_verdicts": section_verdicts,
    "claims": claims_ledger,
    "run_folder": run_folder_layout,
    "latency": latency_table,
    "tables_real": real_tables,
}


def rendered(text: str) -> str:
    def fill(found: re.Match) -> str:
        name = found["name"]
        if name not in BLOCKS:
            raise SystemExit(f"unknown generated block {name!r}; known: {', '.join(BLOCKS)}")
        return f"{found[1]}{BLOCKS[name]().rstrip()}\n{found[4]}"

    return BLOCK.sub(fill, text)


def pages() -> dict[Path, str]:
    """Every generated page as the records render it now."""
    out = {path: rendered(path.read_text()) for path in PAGES}
    for model in models():
        out[ROOT / "docs" / "models" / f"{model}.md"] = card(model, models())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; fail when a page is out of date")
    args = parser.parse_args()
    stale = []
    for path, text in pages().items():
        if not path.is_file() or path.read_text() != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if args.check and stale:
        raise UserError(f"out of date (run `make docs`): {', '.join(map(str, stale))}")
    print(f"{'stale' if args.check else 'rewrote'}: {', '.join(map(str, stale)) or 'nothing'}")


if __name__ == "__main__":
    from zoo.way_out import way_out

    with way_out("no page was left half-written; run the command again"):
        main()
