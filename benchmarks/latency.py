"""Prediction latency of each default model on this CPU: PyTorch eager and onnxruntime, one input and a batch.

    python benchmarks/latency.py [--repeats 50] [model ...]     # writes the record `predict` (all models)

Each model that answers an input (classifiers, regressors, language models) is trained at its CPU default
(`python train.py model=<m> data=<its data> seed=1`: the ODENet's solver steps depend on its trained weights), its
checkpoint is exported to ONNX by evaluate.py mode=export (the parity check passing), and the exported module is
timed on inputs in its served range: one input (a language model: one window of 35 tokens) and a batch of 64,
the median of `--repeats` calls after 5 warm-up calls, PyTorch (no_grad, its default threads) and onnxruntime
(CPU provider, its default threads) one after the other. A model that cannot be exported (the ODENet's adaptive
solver) is timed in PyTorch alone.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import ROOT  # noqa: F401 - the zoo on the import path

from zoo import records
from zoo.build import model_from_checkpoint
from zoo.catalog import list_models
from zoo.checkpoint import load_checkpoint
from zoo.errors import UserError
from zoo.exporting import check_inputs
from zoo.run import evaluate, train
from zoo.serving import serving
from zoo.starting import compose_run

QUIET = ["trainer=cpu", "callbacks.progress_bar=null", "extras.print_config=false"]
PREDICTORS = ("Classifier", "Regressor", "LanguageModel")
WINDOW = 35  # tokens in a language model's input


def median_ms(call, x, repeats: int) -> float:
    for _ in range(5):
        call(x)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call(x)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def inputs(model, constants: dict, example: torch.Tensor, batch: int) -> torch.Tensor:
    if example.dtype == torch.long:
        return torch.randint(0, len(model.data.vocab), (batch, WINDOW), generator=torch.Generator().manual_seed(0))
    return check_inputs(model, constants, example, None, 0)[0][:batch]


def measure(model_name: str, data: str, repeats: int) -> dict:
    import onnxruntime

    with tempfile.TemporaryDirectory() as out:
        command = [*QUIET, f"model={model_name}", f"data={data}", "seed=1"]
        trained = train(compose_run("train", command, Path(out) / "t"))
        checkpoint = trained["best_checkpoint"]
        loaded = load_checkpoint(checkpoint)
        model = model_from_checkpoint(loaded, checkpoint).eval()
        metrics, session = {"n_params": trained["n_params"]}, None
        try:
            exported = evaluate(compose_run("evaluate", [f"ckpt_path={checkpoint}", "mode=export"], Path(out) / "e"))
            session = onnxruntime.InferenceSession(exported["exported"], providers=["CPUExecutionProvider"])
            metrics["max_abs_difference"] = exported["max_abs_difference"]
            module, example = model.exportable()
        except UserError as err:  # the ODENet's adaptive solver: PyTorch alone, and the reason
            print(f"{model_name} is timed in PyTorch alone: {err}", flush=True)
            module, example = model, torch.zeros(1, *model.data.input_shape)
        for batch in (1, 64):
            x = inputs(model, serving(loaded["zoo"]), example, batch)
            with torch.no_grad():
                metrics[f"eager_ms_batch{batch}"] = median_ms(module, x, repeats)
            if session is not None:
                onnx = session.run
                ms = median_ms(lambda x, f=onnx: f(None, {"input": x.numpy()}), x, repeats)
                metrics[f"onnx_ms_batch{batch}"] = ms
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per figure; the median counts")
    parser.add_argument("models", nargs="*", help="default models (all that answer an input when none)")
    args = parser.parse_args()
    models = list_models()
    chosen = args.models or [n for n, e in models.items() if e.learner.rsplit(".", 1)[-1] in PREDICTORS]
    runs = []
    for name in chosen:
        data = models[name].about["data"]
        metrics = measure(name, data, args.repeats)
        runs.append({"label": name, "command": f"python train.py model={name} data={data} seed=1; python evaluate.py "
                     f"ckpt_path=<its best.ckpt> mode=export", "seeds": [1], "metrics": metrics})  # fmt: skip
        shown = ", ".join(f"{k} {v:.3g}" for k, v in metrics.items())
        print(f"{name}: {shown}", flush=True)
    what = "prediction latency of each default model: PyTorch eager and onnxruntime, one input and a batch of 64"
    records.write("predict", {"what": what, "repeats": args.repeats, "runs": runs})


if __name__ == "__main__":
    from zoo.way_out import way_out

    with way_out("the latency record was not written; run the command again"):
        main()
