"""evaluate.py mode=demo: a local web page for a trained model (Gradio, an optional extra: pip install
'lecture-zoo[demo]'), bound to 127.0.0.1.

Each kind of model gets the page that fits it: an image classifier takes an upload (or a drawing, for grey images)
and shows its class probabilities; a table model takes a form of its columns; a model of points in the plane shows
its decision boundary and the prediction at a clicked or typed point; a language model continues a prompt at a
chosen temperature; a generative model draws samples from a chosen seed. Every answer goes through the same serving
as mode=predict (zoo.serving), so the page and the predictions file cannot disagree.
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from pathlib import Path

import torch

from datamodules.description import DataDescription
from datamodules.text import detokenize
from zoo import plots
from zoo.errors import Interrupted, UserError
from zoo.learners.base import Learner
from zoo.serving import served

BOX, PIXELS = 3.0, 300  # the points page shows [-BOX, BOX]^2, where the zoo's point sets lie, in PIXELS^2


def import_gradio():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # this page reports to no one
    try:
        import gradio
    except ImportError as err:
        raise UserError(
            "mode=demo serves its page with Gradio, which is not installed: pip install 'lecture-zoo[demo]'"
        ) from err
    return gradio


class Answers:
    """The page's functions: plain Python of the model and the served inputs (tested without a browser)."""

    def __init__(self, model, constants: dict, top_k: int, seed: int):
        self.model, self.constants, self.top_k, self.seed = model, constants, top_k, seed
        self.description = DataDescription.from_dict(constants["description"])
        self.answered = 0
        self.scratch = tempfile.TemporaryDirectory(prefix="zoo-demo-")  # the forms' files; gone with the page
        self.folder = Path(self.scratch.name)

    def _served(self, path: str | None, prompt: str | None = None) -> torch.Tensor:
        """The one input at `path` (or the prompt), served; why it cannot be, as the page's sentence."""
        read = served(self.constants, path, prompt)
        if not read.x:
            raise UserError(read.skipped[0][1])
        self.answered += 1
        return read.x[0]

    def _predict(self, path: str | None, prompt: str | None = None) -> dict:
        return self.model.predict_inputs([self._served(path, prompt)], self.top_k)[0]

    def probabilities(self, row: dict) -> dict[str, float]:
        """A classifier's row as {class: probability} (its top k)."""
        return dict(row["top_k"])

    def image(self, path: str | None) -> dict[str, float]:
        if not path:
            raise UserError("upload an image (or draw one) first")
        return self.probabilities(self._predict(path))

    def row(self, *values) -> dict | float:
        columns = list(dict.fromkeys(c[0] for c in self.description.feature_encoding))
        path = self.folder / "row.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerow(["" if v is None else v for v in values])
        answer = self._predict(str(path))
        return answer["predicted"] if self.description.task == "regression" else self.probabilities(answer)

    def point(self, x1: float, x2: float):
        path = self.folder / "point.csv"
        path.write_text(f"{float(x1)},{float(x2)}\n")
        answer = self.probabilities(self._predict(str(path)))
        return answer, self.boundary((float(x1), float(x2)))

    @torch.no_grad()
    def boundary(self, point: tuple[float, float] | None = None):
        """The plane [-BOX, BOX]^2 as a picture, pixel for pixel (so a click names a point): each pixel in the colour
        of the class the model predicts there, paler where it is less sure; the point asked about in black."""
        from matplotlib import colormaps

        ticks = torch.linspace(-BOX, BOX, PIXELS)
        x2, x1 = torch.meshgrid(-ticks, ticks, indexing="ij")  # rows run from the top (x2 = BOX) down
        probabilities = torch.softmax(self.model(torch.stack([x1.flatten(), x2.flatten()], 1)), 1)
        confidence, predicted = probabilities.max(1)
        colours = torch.tensor(colormaps["tab10"](predicted.numpy() % 10)[:, :3], dtype=torch.float32)
        sure = ((confidence - 1 / probabilities.shape[1]) / (1 - 1 / probabilities.shape[1])).clamp(0, 1)[:, None]
        picture = (1 - 0.7 * sure) + 0.7 * sure * colours
        picture = picture.view(PIXELS, PIXELS, 3)
        if point is not None:
            col, row = (round((v + BOX) / (2 * BOX) * (PIXELS - 1)) for v in (point[0], -point[1]))
            picture[max(row - 3, 0) : row + 4, max(col - 3, 0) : col + 4] = 0
        return (picture * 255).round().to(torch.uint8).numpy()

    def continuation(self, prompt: str, length: int, temperature: float) -> tuple[str, dict[str, float]]:
        """The prompt continued by `length` sampled tokens, and the next token's top k."""
        ids = self._served(None, prompt)
        next_token = self.probabilities(self.model.predict_inputs([ids], self.top_k)[0])
        ids = ids.tolist()
        continued = self.model.sample_tokens(ids, int(length), float(temperature), self.seed)
        vocab = self.description.vocab
        return detokenize([vocab[i] for i in ids + continued], self.description.level), next_token

    def samples(self, n: int, seed: int) -> str:
        drawn = self.model.sample(int(n), seed=int(seed)).detach().cpu().float()
        self.answered += 1
        path = self.folder / f"samples_{self.answered}.png"
        if drawn.dim() == 2:
            return str(plots.point_samples(drawn[:0], drawn, path, f"{int(n)} samples (seed {int(seed)})"))
        return str(plots.sample_grid(drawn, path, f"{int(n)} samples (seed {int(seed)})"))


def said(gr, answer):
    """An answer whose refusal is shown on the page as its sentence (Gradio shows other errors as 'Error')."""

    def shown(*args):
        try:
            return answer(*args)
        except UserError as err:
            raise gr.Error(str(err)) from err

    return shown


def page(answers: Answers, title: str):
    """The Gradio page for the model behind `answers`."""
    gr = import_gradio()
    model, description = answers.model, answers.description
    shown = ", ".join(f"{k}={v}" for k, v in (("classes", description.num_classes), ("input", description.input_shape))
                      if v)  # fmt: skip
    with gr.Blocks(title=title, analytics_enabled=False) as blocks:
        gr.Markdown(f"# {title}\n{type(model).__name__} trained on {description.kind} ({shown}).")
        if _samples(model):
            n = gr.Slider(1, 64, value=16, step=1, label="samples")
            seed = gr.Number(value=answers.seed, precision=0, label="seed")
            button = gr.Button("Draw", elem_id="draw")
            out = gr.Image(type="filepath", label="samples", elem_id="samples")
            button.click(said(gr, answers.samples), [n, seed], out)
        elif description.kind == "images":
            channels = description.input_shape[0]
            height, width = description.input_shape[1:]
            colour = "grey" if channels == 1 else "colour"
            gr.Markdown(f"The model reads {colour} images of {height}x{width} pixels; uploads are resized.")
            with gr.Row():
                image = gr.Image(type="filepath", image_mode="L" if channels == 1 else "RGB", label="image",
                                 sources=["upload", "clipboard"], elem_id="image")  # fmt: skip
                label = gr.Label(num_top_classes=answers.top_k, label="class probabilities", elem_id="answer")
            button = gr.Button("Classify", elem_id="submit")
            button.click(said(gr, answers.image), image, label)
        elif description.kind == "rows":
            fields = []
            for name in dict.fromkeys(c[0] for c in description.feature_encoding):
                made = [c for c in description.feature_encoding if c[0] == name]
                if len(made[0]) == 3:  # a number: [name, mean, std]
                    fields.append(gr.Number(value=round(made[0][1], 4), label=name))
                else:
                    values = [c[1] for c in made]
                    fields.append(gr.Dropdown(values, value=values[0], label=name))
            regression = description.task == "regression"
            out = gr.Number(label="predicted value", elem_id="answer") if regression else gr.Label(
                num_top_classes=answers.top_k, label="class probabilities", elem_id="answer")  # fmt: skip
            button = gr.Button("Predict", elem_id="submit")
            button.click(said(gr, answers.row), fields, out)
        elif description.kind == "points":
            with gr.Row():
                x1 = gr.Number(value=0.0, label="x1", elem_id="x1")
                x2 = gr.Number(value=0.0, label="x2", elem_id="x2")
            picture = gr.Image(value=answers.boundary(), type="numpy", label="decision boundary (click a point)",
                               interactive=False, elem_id="boundary")  # fmt: skip
            label = gr.Label(num_top_classes=answers.top_k, label="class probabilities", elem_id="answer")
            button = gr.Button("Predict", elem_id="submit")
            button.click(said(gr, answers.point), [x1, x2], [label, picture])

            def clicked(event):
                col, row = event.index
                return BOX * (2 * col / (PIXELS - 1) - 1), BOX * (1 - 2 * row / (PIXELS - 1))

            clicked.__annotations__["event"] = gr.SelectData  # how Gradio knows to hand it the click (not a string)

            picture.select(clicked, None, [x1, x2])
        elif description.kind == "tokens":
            prompt = gr.Textbox(label="prompt", elem_id="prompt")
            with gr.Row():
                temperature = gr.Slider(0.1, 2.0, value=1.0, label="temperature")
                length = gr.Slider(1, 400, value=100, step=1, label="tokens to add")
            button = gr.Button("Continue", elem_id="submit")
            text = gr.Textbox(label="continued", elem_id="answer")
            label = gr.Label(num_top_classes=answers.top_k, label="next token after the prompt")
            button.click(said(gr, answers.continuation), [prompt, length, temperature], [text, label])
        else:
            raise UserError(f"mode=demo has no page for a {type(model).__name__}; {model.instead}")
    return blocks


def _samples(model) -> bool:
    """Whether the model draws samples (its learner has a sample() of its own)."""
    return type(model).sample is not Learner.sample


def serve(model, constants: dict, title: str, port: int, top_k: int, seed: int, before=None) -> dict:
    """Serve the page on 127.0.0.1 until Ctrl-C; returns how many answers it gave."""
    answers = Answers(model, constants, top_k, seed)
    blocks = page(answers, title)
    if before is not None:
        before()
    try:
        _, url, _ = blocks.launch(server_name="127.0.0.1", server_port=port or None, prevent_thread_lock=True,
                                  quiet=True, share=False)  # fmt: skip
    except OSError as err:
        raise UserError(f"the demo page cannot listen on 127.0.0.1:{port} ({err}); port=0 takes a free one") from err
    print(f"the demo page is at {url} (Ctrl-C ends it)", flush=True)
    try:
        while True:
            time.sleep(0.2)
    except (Interrupted, KeyboardInterrupt):
        print("the demo page is closed", flush=True)
    finally:
        blocks.close()
    return {"url": url, "answered": answers.answered}
