"""Using a trained model on new inputs: evaluate.py mode=predict (a file, a folder, a table, a prompt) and
mode=sample (a generative model's samples), from the checkpoint alone.

What serving an input needs is read from the checkpoint (`serving`): the data's description, the training split's
pixel statistics and a table's reading settings; no copy of the training data is opened. Every file is written
whole; an input the model cannot take is a row marked skipped with its reason.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import torch

from datamodules.description import DataDescription
from datamodules.inputs import Inputs, read_inputs
from zoo import plots
from zoo.errors import UserError
from zoo.files import whole, write_whole
from zoo.run_folder import RunFolder

SHOWN = 10  # rows of the console table, and images of the picture (16)


def serving(spec: dict) -> dict:
    """What serving a new input needs, as plain values (also written beside an exported network)."""
    data = spec.get("data") or {}
    return {
        "description": spec["description"],
        "statistics": spec.get("inputs", {}),
        "table": {key: data[key] for key in ("sep", "decimal", "thousands", "missing") if key in data},
    }


def served(constants: dict, inputs: str | None, prompt: str | None = None) -> Inputs:
    """The inputs at `inputs` (or a prompt) served as the checkpoint's training data was."""
    description = DataDescription.from_dict(constants["description"])
    if description.kind == "images" and description.scaling == "standard" and "mean" not in constants["statistics"]:
        raise UserError(
            "this checkpoint was written before checkpoints carried their training images' mean and deviation, which "
            "serving a new image needs; train it again"
        )
    return read_inputs(inputs, prompt, description, constants["table"], constants["statistics"])


def predictions_csv(inputs: Inputs, rows: list[dict]) -> tuple[str, list[dict]]:
    """The predictions file's text: every input in its order, its status and the model's answer."""
    answers = iter(rows)
    columns = ["input", "status", *(rows[0] if rows else [])]
    table = []
    for name, why in inputs.entries:
        answer = next(answers) if why is None else {}
        status = f"skipped: {why}" if why is not None else f"ok: {inputs.notes[name]}" if name in inputs.notes else "ok"
        shown = {k: "; ".join(f"{n} {p:.4f}" for n, p in v) if isinstance(v, list) else v for k, v in answer.items()}
        table.append({"input": name, "status": status, **shown})
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return text.getvalue(), table


def show(table: list[dict], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    shown = Table(title=title)
    for column in table[0]:
        shown.add_column(column, overflow="fold", max_width=48 if column in ("input", "status") else None)
    for row in table[:SHOWN]:
        shown.add_row(*(f"{v:.4g}" if isinstance(v, float) else str("" if v is None else v) for v in row.values()))
    Console().print(shown)


def predict(model, constants: dict, folder: RunFolder, inputs: str | None, prompt: str | None, top_k: int) -> dict:
    """mode=predict: predictions.csv (and predictions.png for images) in the run folder; returns the counts."""
    read = served(constants, inputs, prompt)
    if not read.x:
        name, why = read.skipped[0] if read.skipped else (inputs, "it holds no input")
        raise UserError(
            f"none of the {len(read.entries)} inputs could be served to the model ({name}: {why}); nothing was written"
        )
    rows = model.predict_inputs(read.x, top_k)
    text, table = predictions_csv(read, rows)
    write_whole(folder.predictions, text)
    show(table, f"predictions ({len(read.x)} inputs, {len(read.skipped)} skipped)")
    if read.pixels:
        titles = [f"{Path(name).name}: {row['predicted']} ({row['probability']:.2f})" for name, row in
                  zip(read.names, rows)]  # fmt: skip
        plots.captioned(torch.stack(read.pixels[:16]), titles[:16], folder.predictions_picture)
    print(f"wrote {folder.predictions}", flush=True)
    return {"inputs": len(read.entries), "predicted": len(read.x), "skipped": len(read.skipped)}


def sample(model, folder: RunFolder, n: int, seed: int) -> dict:
    """mode=sample: n samples, seeded: PNG images (or a CSV of points) in samples/, and a picture of them."""
    drawn = model.sample(n, seed=seed).detach().cpu().float()
    folder.sampled.mkdir()
    if drawn.dim() == 2:  # points
        text = "x1,x2\n" + "".join(f"{a:.6g},{b:.6g}\n" for a, b in drawn.tolist())
        write_whole(folder.sampled / "samples.csv", text)
        plots.point_samples(drawn[:0], drawn, folder.sampled_picture, f"{n} samples (seed {seed})")
    else:
        from PIL import Image

        pixels = (drawn.clamp(0, 1) * 255).round().to(torch.uint8)
        for i, image in enumerate(pixels):
            array = image[0].numpy() if len(image) == 1 else image.permute(1, 2, 0).numpy()
            with whole(folder.sampled / f"{i:05d}.png") as partial:
                Image.fromarray(array).save(partial, format="PNG")
        plots.sample_grid(drawn[:64], folder.sampled_picture, f"{min(n, 64)} of {n} samples (seed {seed})")
    print(f"wrote {n} samples to {folder.sampled}", flush=True)
    return {"samples": n}
