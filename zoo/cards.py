"""A card per model (`python -m zoo card <model>`, docs/models/<model>.md): what it is, where the lecture shows
it, what it learns from, the papers' figures with their presets and the zoo's own figures per budget.

Everything on a card comes from the model's config (its `about`: slide, what, the data and metric of its
CPU-default figure, the papers) and from the records (zoo/records.py); a budget without a record says so
and names the command that measures it.
"""

from __future__ import annotations

import re
from pathlib import Path

from zoo import records
from zoo.catalog import list_models
from zoo.composing import CONFIG_DIR
from zoo.errors import UserError
from zoo.tables import markdown

GALLERY = Path("docs") / "gallery"  # relative to the project root, as the docs link it
SEED = re.compile(r"\s(--)?seed[= ]\d+")
SCRATCH = re.compile(r"=/tmp/\S+")  # a benchmark's temporary copy of the data


def figure(value: float) -> str:
    """Four significant digits: what a figure measured over a few seeds can claim."""
    return f"{value:.4g}"


def band_text(band: dict) -> str:
    if band["n"] == 1:
        return figure(band["mean"])
    return f"{figure(band['mean'])} ± {band['spread']:.2g} ({band['n']} seeds)"


def provenance(record: dict) -> str:
    return f"`{record['name']}` record, {records.when_and_where(record)}"


def grouped(runs: list[dict]) -> list[tuple[str, str, dict]]:
    """Runs that differ only in their seed, together: (label, command without the seed, bands)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        command = SCRATCH.sub("=<its copy of the data>", SEED.sub("", run["command"]))
        groups.setdefault((run.get("label", ""), command), []).append(run)
    return [(label, command, records.bands(members)) for (label, command), members in groups.items()]


def runs_table(runs: list[dict], metrics: list[str] | None = None) -> list[str]:
    """A Markdown table of grouped runs: what ran and each metric as mean ± spread over its seeds."""
    rows = grouped(runs)
    shown = metrics or sorted({m for _, _, bands in rows for m in bands if m.startswith(("test/", "linear_"))})
    shown = [*shown, "fit_seconds"]
    table = [[label, f"`{command}`", *(band_text(b[m]) if m in b else "" for m in shown)] for label, command, b in rows]
    return markdown(["run", "command", *shown], table).splitlines()


def recipes(model: str) -> list[str]:
    found = sorted((CONFIG_DIR / "recipe" / "pair").glob(f"{model}_*.yaml"))
    found += sorted((CONFIG_DIR / "recipe" / "model").glob(f"{model}.yaml"))
    return [f"configs/{p.relative_to(CONFIG_DIR)}" for p in found]


def records_naming(model: str) -> list[dict]:
    """The records of real-data comparisons and tables whose runs train this model."""
    token = re.compile(rf"(^|\s)model={re.escape(model)}(\s|$)")
    chosen = []
    for name in records.names():
        if name in ("smoke", "predict", "tables_real") or name.startswith("default_"):  # rendered on pages of their own
            continue
        record = records.read(name)
        if any(token.search(run.get("command", "")) for run in record.get("runs", [])):
            chosen.append(record)
    return chosen


def sections_measuring(model: str) -> list[dict]:
    """The lecture sections' records that measured a fact of this model for its card."""
    found = (records.read(name) for name in records.names() if name.startswith("section_"))
    return [record for record in found if model in record.get("cards", {})]


def card(model: str, models: dict | None = None) -> str:
    """The card of one model; `models` is list_models()'s answer when the caller has it already."""
    models = models or list_models()
    if model not in models:
        raise UserError(f"no model {model!r}; `python -m zoo list` names them: {', '.join(models)}")
    entry = models[model]
    about = entry.about
    data, metric = about["data"], about["metric"]
    lines = [f"# `{model}`: {about['what']}", "", f'Lecture slide: "{about["slide"]}".', ""]
    lines += [f"- network: `{entry.network}` (zoo/nets/), learner: `{entry.learner}`"]
    default = records.measured(f"default_{model}")
    if default and "n_params" in default["band"]:
        lines += [f"- parameters on `data={data}`: {int(default['band']['n_params']['mean']):,}"]
    lines += [f"- learns from: {', '.join(f'`data={d}`' for d in entry.data)}"]
    shown = recipes(model)
    lines += [f"- recipes: {', '.join(f'`{r}`' for r in shown)}" if shown else "- recipes: none (its defaults)"]
    lines += ["", "## The zoo's figures", ""]
    command = f"python train.py model={model} data={data}"
    smoke = records.measured("smoke")
    if smoke and model in smoke["bands"] and metric in smoke["bands"][model]:
        lines += [f"- smoke (`{command} {' '.join(smoke['overrides'])}`): {metric} "
                  f"{band_text(smoke['bands'][model][metric])}; {provenance(smoke)}"]  # fmt: skip
    else:
        lines += ["- smoke: not measured yet (`make results ONLY=smoke`)"]
    if default and metric in default["band"]:
        seconds = default["band"]["fit_seconds"]["mean"]
        lines += [f"- CPU default (`{command}`): {metric} {band_text(default['band'][metric])}, "
                  f"{figure(seconds)} s of fitting; {provenance(default)}"]  # fmt: skip
    else:
        lines += [f"- CPU default (`{command}`): not measured yet (`make results ONLY=default_{model}`)"]
    latency = records.measured("predict")
    timed = next((run["metrics"] for run in latency["runs"] if run["label"] == model), None) if latency else None
    if timed and "onnx_ms_batch1" not in timed:
        lines += [f"- prediction latency in PyTorch (not exportable): one input {figure(timed['eager_ms_batch1'])} ms, "
                  f"a batch of 64 {figure(timed['eager_ms_batch64'])} ms; {provenance(latency)}"]  # fmt: skip
    elif timed:
        lines += [f"- prediction latency (PyTorch eager / onnxruntime, the ONNX export within "
                  f"{timed['max_abs_difference']:.1g} of PyTorch): one input {figure(timed['eager_ms_batch1'])} / "
                  f"{figure(timed['onnx_ms_batch1'])} ms, a batch of 64 {figure(timed['eager_ms_batch64'])} / "
                  f"{figure(timed['onnx_ms_batch64'])} ms; {provenance(latency)}"]  # fmt: skip
    for record in sections_measuring(model):
        lines += [f"- {fact}; {provenance(record)}" for fact in record["cards"][model]]
    for record in records_naming(model):
        lines += ["", f"### {record['what']}", "", f"From the {provenance(record)}.", "", *runs_table(record["runs"])]
    lines += ["", "## The papers", ""]
    for paper in about.get("papers") or []:
        lines += [f"- {paper['claim']}: {paper['source']}; `python train.py {paper['preset']}` (not run here)"]
    if not about.get("papers"):
        lines += ["- no paper figure for this model's setting"]
    picture = GALLERY / f"{model}.png"
    if (records.ROOT / picture).is_file():
        lines += ["", "## What its run draws", "", f"![{model}](../gallery/{model}.png)"]
    return "\n".join(lines) + "\n"
