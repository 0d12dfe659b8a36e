"""evaluate.py mode=export: the network for use outside this zoo, checked before it is kept.

format=onnx (read by onnxruntime, an optional extra: pip install 'lecture-zoo[export]'), torchscript (torch.jit)
or exported (a torch.export program). The file is written beside serving.json, which holds what serving an input
needs (zoo.serving); it is loaded back and run on real inputs (inputs=PATH, or inputs drawn in the served range)
against the PyTorch network, and kept only when the largest absolute difference is within `tolerance`.
"""

from __future__ import annotations

import json
import warnings

import torch

from zoo.errors import UserError
from zoo.files import whole, write_whole
from zoo.run_folder import RunFolder
from zoo.serving import served

OUTPUTS = {"Classifier": "class scores (logits; softmax gives the probabilities)", "Regressor": "the predicted value",
           "LanguageModel": "next-token scores (logits) at every position, from a zero state"}  # fmt: skip


def check_inputs(model, constants: dict, example: torch.Tensor, inputs: str | None, seed: int) -> list[torch.Tensor]:
    """Batches the parity check runs: the served inputs at `inputs`, or 64 drawn in the range served inputs take."""
    if inputs is not None:
        read = served(constants, inputs)
        if not read.x:
            raise UserError(f"none of the inputs at {inputs} could be served ({read.skipped[0][1]}); give others")
        if example.dtype == torch.long:  # prompts differ in length: one batch each
            return [ids[None] for ids in read.x]
        return list(torch.stack(read.x).split(64))
    generator = torch.Generator().manual_seed(seed)
    if example.dtype == torch.long:
        return [torch.randint(0, len(model.data.vocab), (4, 12), generator=generator)]
    shape = (64, *example.shape[1:])
    if model.data.kind == "images" and model.data.scaling != "standard":
        return [torch.rand(shape, generator=generator)]
    return [torch.randn(shape, generator=generator)]


def write(module: torch.nn.Module, example: torch.Tensor, format: str, path) -> None:
    axes = {0: "batch", 1: "time"} if example.dtype == torch.long else {0: "batch"}
    if format == "onnx":
        torch.onnx.export(
            module, (example,), str(path), input_names=["input"], output_names=["output"],
            dynamic_axes={"input": axes, "output": {0: "batch"}}, dynamo=False,
        )  # fmt: skip
    elif format == "torchscript":
        torch.jit.save(torch.jit.trace(module, example), str(path))
    else:  # through a file object: torch.export names its files *.pt2, not a temporary name
        dims = {k: torch.export.Dim(name) for k, name in axes.items()}
        with open(path, "wb") as handle:
            torch.export.save(torch.export.export(module, (example,), dynamic_shapes=(dims,)), handle)


def runner(format: str, path):
    """The exported file loaded back, as a function of a batch."""
    if format == "onnx":
        try:
            import onnxruntime
        except ImportError as err:
            raise UserError(
                "format=onnx checks the export with onnxruntime, which is not installed: pip install "
                "'lecture-zoo[export]' (or format=torchscript)"
            ) from err
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda x: torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    if format == "torchscript":
        loaded = torch.jit.load(str(path))
    else:
        with open(path, "rb") as handle:
            loaded = torch.export.load(handle).module()
    return lambda x: loaded(x)


def export(model, constants: dict, folder: RunFolder, format: str, tolerance: float, inputs: str | None, seed: int):
    """Write, load back and check the network; returns the largest difference found and the files."""
    module, example = model.exportable()
    module = module.cpu().eval()
    batches = check_inputs(model, constants, example, inputs, seed)
    path = folder.exported(format)
    with whole(path) as partial, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' notes on tracing and deprecations concern no user's run
        try:
            write(module, example, format, partial)
            run = runner(format, partial)
            with torch.no_grad():
                difference = max(float((run(x) - module(x)).abs().max()) for x in batches)
        except UserError:
            raise
        except Exception as err:
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            raise UserError(
                f"this {type(model).__name__}'s network cannot be exported as format={format} ({reason}); try another "
                f"format (onnx, torchscript, exported), or use the checkpoint with mode=predict"
            ) from err
        if not difference <= tolerance:
            raise UserError(
                f"the exported network differs from PyTorch's by up to {difference:.3g} on the check inputs, above "
                f"tolerance={tolerance}; nothing was kept (a larger tolerance accepts it)"
            )
    described = {"format": format, "file": path.name, "input": {"name": "input", "dtype": str(example.dtype)[6:],
                 "shape": ["batch", *(["time"] if example.dtype == torch.long else example.shape[1:])]},
                 "output": OUTPUTS.get(type(model).__name__, "the network's output")}  # fmt: skip
    write_whole(folder.serving, json.dumps(described | constants, indent=1) + "\n")
    checked = sum(len(x) for x in batches)
    print(f"exported {path} and {folder.serving}: on {checked} check inputs the largest difference from PyTorch is "
          f"{difference:.3g} (tolerance {tolerance})", flush=True)  # fmt: skip
    return {"format": format, "exported": str(path), "max_abs_difference": difference, "checked_inputs": checked}
