"""Using a trained model from its checkpoint alone: predictions on new inputs served exactly as the training data
was, samples, exports checked against PyTorch, and the demo page's answers; bad inputs end in a sentence or a row
marked skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import FAST
from zoo import api
from zoo.build import model_from_checkpoint
from zoo.checkpoint import load_checkpoint
from zoo.errors import UserError
from zoo.run_folder import RunFolder
from zoo.serving import serving

# its tests share module fixtures: one worker runs them all (pytest-xdist --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_using")

FEW = [*FAST, "trainer.max_epochs=1"]


def write_image_folder(root: Path, seed: int = 0) -> Path:
    """DIR/train/<class>/*.png and DIR/test/<class>/*.png: colour 10x10 images, 3 classes."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", 14), ("test", 4)):
        for k, name in enumerate(("cat", "dog", "owl")):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)
                pixels[..., k] = np.maximum(pixels[..., k], 180)
                Image.fromarray(pixels, "RGB").save(root / split / name / f"{i}.png")
    return root


def write_table(path: Path, n: int = 120, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = ["age,colour,size,label"]
    for _ in range(n):
        age, colour, size = rng.uniform(10, 60), rng.choice(["red", "green", "blue"]), rng.normal(5, 2)
        lines.append(
            f"{age:.1f},{colour},{size:.2f},{'yes' if age / 10 + (colour == 'red') * 2 + size / 3 > 6 else 'no'}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """Checkpoints of an image-folder CNN, a table MLP, a character LSTM, two GANs, a flow and an autoencoder; the
    image folder, the table and the text are moved away after training (using a model must need none of them)."""
    root = tmp_path_factory.mktemp("using")
    images, table = write_image_folder(root / "photos"), write_table(root / "table.csv")
    (root / "book.txt").write_text("the cat sat on the mat. the dog sat on the log. " * 60)
    runs = {
        "cnn": ["model=cnn", "data=images", f"data.path={images}", "data.batch_size=16"],
        "mlp": ["model=mlp", "data=table", f"data.path={table}", "data.target=label"],
        "lstm": ["model=lstm_lm", "data=text", f"data.path={root / 'book.txt'}", "model.hidden_size=16",
                 "model.embedding_dim=8", "model.num_layers=1", "data.bptt=20", "trainer.limit_train_batches=4"],
        "perceptron": ["model=perceptron", "data=moons"],
        "gan": ["model=gan", "data=moons", "trainer.limit_train_batches=2"],
        "dcgan": ["model=dcgan", "data=digits", "trainer.limit_train_batches=2"],
        "realnvp": ["model=realnvp", "data=moons", "trainer.limit_train_batches=2"],
        "autoencoder": ["model=autoencoder", "data=digits", "trainer.limit_train_batches=2"],
    }  # fmt: skip
    out = {name: Path(api.train(*FEW, *overrides, output_dir=root / name).best_checkpoint) for name, overrides in
           runs.items()}  # fmt: skip
    kept = root / "kept"
    kept.mkdir()
    shutil.move(images, kept / "photos")
    shutil.move(table, kept / "table.csv")
    shutil.move(root / "book.txt", kept / "book.txt")
    return out | {"root": root, "photos": kept / "photos", "table": kept / "table.csv"}


def served_model(checkpoint: Path):
    loaded = load_checkpoint(checkpoint)
    return model_from_checkpoint(loaded, checkpoint).eval(), loaded["zoo"]


def rows_of(predictions: list[dict]) -> dict[str, dict]:
    return {Path(row["input"]).name if ":" not in row["input"] else row["input"]: row for row in predictions}


def test_new_images_are_served_as_the_training_images_were(trained, tmp_path):
    """Predicting on the test folder's files gives the probabilities the model gives the datamodule's test split."""
    from zoo.build import build_datamodule

    model, spec = served_model(trained["cnn"])
    data = build_datamodule({**spec["data"], "path": str(trained["photos"]), "cache": None})
    with torch.no_grad():
        expected = torch.softmax(model(data.inputs("test")), 1)
    files = sorted((trained["photos"] / "test").rglob("*.png"), key=lambda p: (p.parent.name, int(p.stem)))
    got = api.predict(trained["cnn"], str(trained["photos"] / "test"), output_dir=tmp_path / "p")
    by_file = {row["input"]: row for row in got}
    names = spec["description"]["label_names"]
    for file, probabilities in zip(files, expected):
        row = by_file[str(file)]
        assert row["status"] == "ok"
        assert row["predicted"] == names[int(probabilities.argmax())]
        assert float(row["probability"]) == pytest.approx(float(probabilities.max()), abs=1e-4)
    assert (tmp_path / "p" / "predictions.png").is_file()


def test_digit_pictures_are_served_at_the_models_pixel_levels(trained_mlp, tmp_path):
    """A digits model sees 17 levels standardised by its training split's mean: an 8-bit picture of a digit is
    served to exactly the tensor the datamodule served."""
    from zoo.build import build_datamodule
    from zoo.serving import served

    model, spec = served_model(RunFolder(trained_mlp).best)
    data = build_datamodule(spec["data"])
    x = data.splits["test"].x[:5]
    mean, std = data.statistics["mean"][0], data.statistics["std"][0]  # of the intensities k/16
    for i, image in enumerate(x):
        k = ((image[0] * std + mean) * 16).round().clamp(0, 16)
        Image.fromarray((k * 255 / 16).round().numpy().astype(np.uint8), "L").save(tmp_path / f"{i}.png")
    read = served(serving(spec), str(tmp_path))
    assert torch.allclose(torch.stack(read.x), x, atol=1e-5)


def test_table_rows_are_encoded_as_in_training_and_bad_rows_say_why(trained, tmp_path):
    model, spec = served_model(trained["mlp"])
    rows = tmp_path / "rows.csv"
    rows.write_text("size,colour,age,extra\n5,red,40,x\n3,purple,20,y\n,blue,30,z\n")
    got = api.predict(trained["mlp"], str(rows), output_dir=tmp_path / "p")
    assert [row["status"].split(":")[0] for row in got] == ["ok", "ok", "skipped"]
    assert "'purple' never appeared in training" in got[1]["status"]
    assert "column 'size' has no value" in got[2]["status"]
    # the training table's own rows, served from a file, equal what the datamodule served
    from zoo.build import build_datamodule

    data = build_datamodule({**spec["data"], "path": str(trained["table"])})
    with torch.no_grad():
        expected = torch.softmax(model(data.table()["x"][:10]), 1).max(1).values
    first = tmp_path / "first.csv"
    first.write_text("".join(trained["table"].read_text().splitlines(keepends=True)[:11]))
    again = api.predict(trained["mlp"], str(first), output_dir=tmp_path / "q")
    assert [float(row["probability"]) for row in again] == pytest.approx(expected.tolist(), abs=1e-4)


@pytest.mark.parametrize(
    "case, sentence",
    [
        ("missing_column", "lacks the column(s) 'colour'"),
        ("empty_folder", "holds no images"),
        ("nothing_servable", "none of the 1 inputs could be served"),
        ("no_inputs", "mode=predict needs inputs=PATH"),
    ],
)
def test_inputs_the_model_cannot_take_are_one_sentence_and_no_file(trained, tmp_path, case, sentence):
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.csv").write_text("size,age\n5,40\n")
    (tmp_path / "grey").mkdir()
    Image.fromarray(np.zeros((10, 10), np.uint8), "L").save(tmp_path / "grey" / "g.png")
    checkpoint, inputs = {
        "missing_column": (trained["mlp"], tmp_path / "bad.csv"),
        "empty_folder": (trained["cnn"], tmp_path / "empty"),
        "nothing_servable": (trained["cnn"], tmp_path / "grey"),
        "no_inputs": (trained["cnn"], None),
    }[case]
    with pytest.raises(UserError, match=sentence.replace("(", r"\(").replace(")", r"\)")):
        api.predict(checkpoint, None if inputs is None else str(inputs), output_dir=tmp_path / "p")
    assert not (tmp_path / "p" / "predictions.csv").exists()


def test_unreadable_and_other_channel_images_are_rows_marked_skipped(trained, tmp_path):
    shutil.copy(next((trained["photos"] / "test" / "cat").glob("*.png")), tmp_path / "a.png")
    Image.fromarray(np.zeros((20, 30), np.uint8), "L").save(tmp_path / "grey.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    got = {
        Path(row["input"]).name: row["status"]
        for row in api.predict(trained["cnn"], str(tmp_path), output_dir=tmp_path / "p")
    }
    assert got["a.png"] == "ok"
    assert got["grey.png"].startswith("skipped: a grey image; the model reads colour")
    assert got["broken.jpg"].startswith("skipped: cannot be read as an image")


def test_a_language_model_predicts_the_next_token_of_a_prompt_and_a_file_of_them(trained, tmp_path):
    model, _ = served_model(trained["lstm"])
    got = api.predict(trained["lstm"], prompt="the cat sat", top_k=3, output_dir=tmp_path / "p")
    ids = torch.tensor([model.data.vocab.index(c) for c in "the cat sat"])
    with torch.no_grad():
        probabilities = torch.softmax(model.net(ids[None])[0][0, -1], -1)
    assert got[0]["predicted"] == model.data.vocab[int(probabilities.argmax())]
    assert float(got[0]["probability"]) == pytest.approx(float(probabilities.max()), abs=1e-4)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the dog\n\nthe mat\n")
    assert [row["input"] for row in api.predict(trained["lstm"], str(prompts), output_dir=tmp_path / "q")] == [
        "the dog",
        "the mat",
    ]


@pytest.mark.parametrize("name", ["gan", "dcgan", "realnvp", "autoencoder"])
def test_generative_models_write_seeded_samples(trained, tmp_path, name):
    first = api.sample(trained[name], 6, output_dir=tmp_path / "a")
    again = api.sample(trained[name], 6, output_dir=tmp_path / "b")
    files = sorted(p.name for p in first.iterdir())
    assert files == (["samples.csv"] if name in ("gan", "realnvp") else [f"{i:05d}.png" for i in range(6)])
    assert all((first / f).read_bytes() == (again / f).read_bytes() for f in files)  # the same seed, the same samples
    assert (tmp_path / "a" / "sampled.png").is_file()


@pytest.mark.parametrize("name, format", [("cnn", "onnx"), ("mlp", "onnx"), ("lstm", "onnx"), ("cnn", "torchscript")])
def test_exports_load_back_and_agree_with_pytorch(trained, tmp_path, name, format):
    import json

    result = api.export(trained[name], format, output_dir=tmp_path / "e")
    assert Path(result["exported"]).is_file() and result["max_abs_difference"] <= 1e-4
    constants = json.loads((tmp_path / "e" / "serving.json").read_text())
    assert constants["description"] == served_model(trained[name])[1]["description"]
    if format == "onnx":  # the file alone, read by onnxruntime, answers as the checkpoint does
        import onnxruntime

        model, _ = served_model(trained[name])
        module, example = model.exportable()
        x = torch.randint(0, 5, (3, 7)) if example.dtype == torch.long else torch.randn(3, *example.shape[1:])
        session = onnxruntime.InferenceSession(result["exported"], providers=["CPUExecutionProvider"])
        with torch.no_grad():
            assert np.allclose(session.run(None, {"input": x.numpy()})[0], module(x).numpy(), atol=1e-4)


def test_what_cannot_be_exported_says_what_to_use_instead(trained, tmp_path):
    with pytest.raises(UserError, match="mode=export takes classifiers, regressors and language models; evaluate.py "
                                        "mode=sample"):  # fmt: skip
        api.export(trained["gan"], output_dir=tmp_path / "e")
    odenet = api.create_model("odenet", "digits")
    with pytest.raises(UserError, match="adaptive solver"):
        odenet.exportable()
    assert not (tmp_path / "e" / "model.onnx").exists()


def test_an_option_the_mode_does_not_read_is_refused(trained_mlp, tmp_path):
    """Every mode-specific option, given to every mode that does not read it: one sentence naming its readers (in
    mode=test and generate a prompt is the learner's to refuse, as its other options are); the data and trainer
    settings in the modes that use neither. The rule is checked directly, and once through evaluate.py's path."""
    from omegaconf import OmegaConf

    from zoo.run import MODE_READS, USING, check_mode_options

    values = {"split": "val", "inputs": "x.csv", "top_k": 2, "n": 3, "format": "torchscript", "tolerance": 0.1,
              "port": 0, "prompt": "hi"}  # fmt: skip
    for mode, reads in MODE_READS.items():
        for key in sorted(set(values) - set(reads)):
            learners = {"prompt": "hi"} if key == "prompt" else {}
            given = (f"{key}={values[key]}",)
            if key == "prompt" and mode in ("test", "generate"):
                check_mode_options(OmegaConf.create({"mode": mode}), given, learners)  # the learner's to refuse
                continue
            with pytest.raises(UserError, match=rf"^{key}= is read by mode=.*, not by mode={mode}; leave it out$"):
                check_mode_options(OmegaConf.create({"mode": mode}), given, learners)
        for key in reads:
            check_mode_options(OmegaConf.create({"mode": mode}), (f"{key}={values[key]}",), {})
    for mode in USING:
        for given in ("data.batch_size=8", "+trainer.precision=64", "logger=csv"):
            with pytest.raises(UserError, match=r"is read by mode=test and mode=generate"):
                check_mode_options(OmegaConf.create({"mode": mode}), (given,), {})
    with pytest.raises(UserError, match=r"^inputs= is read by mode=predict and mode=export, not by mode=test"):
        api.evaluate(RunFolder(trained_mlp).best, "inputs=x.csv", output_dir=tmp_path / "e")


def test_the_demo_page_answers_as_predict_does(trained, tmp_path):
    pytest.importorskip("gradio")
    from zoo.demo_page import Answers, page

    model, spec = served_model(trained["cnn"])
    answers = Answers(model, serving(spec), 3, 0)
    page(answers, "cnn")
    image = next((trained["photos"] / "test" / "owl").glob("*.png"))
    row = api.predict(trained["cnn"], str(image), top_k=3, output_dir=tmp_path / "p")[0]
    shown = answers.image(str(image))
    assert list(shown)[0] == row["predicted"] and shown[row["predicted"]] == pytest.approx(float(row["probability"]))
    table, spec = served_model(trained["mlp"])
    form = Answers(table, serving(spec), 2, 0)
    page(form, "mlp")
    assert set(form.row(30, "red", 5.0)) == {"yes", "no"}
    gan, spec = served_model(trained["gan"])
    assert Path(Answers(gan, serving(spec), 2, 0).samples(8, 1)).is_file()


def test_the_points_page_maps_a_click_to_its_point_and_the_language_page_continues(trained, tmp_path):
    pytest.importorskip("gradio")
    import warnings

    from zoo.demo_page import BOX, PIXELS, Answers, page

    perceptron, spec = served_model(trained["perceptron"])
    answers = Answers(perceptron, serving(spec), 2, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. Gradio not seeing that the click handler takes the click's event
        page(answers, "perceptron")
    shown, picture = answers.point(1.5, -0.5)
    with torch.no_grad():
        expected = torch.softmax(perceptron(torch.tensor([[1.5, -0.5]])), 1)[0]
    assert shown[str(int(expected.argmax()))] == pytest.approx(float(expected.max()), abs=1e-4)
    assert picture.shape == (PIXELS, PIXELS, 3)
    row, col = round((BOX + 0.5) / (2 * BOX) * (PIXELS - 1)), round((BOX + 1.5) / (2 * BOX) * (PIXELS - 1))
    assert (picture[row, col] == 0).all()  # the point asked about, at its pixel
    lstm, spec = served_model(trained["lstm"])
    text, next_token = Answers(lstm, serving(spec), 3, 0).continuation("the cat", 12, 0.8)
    assert text.startswith("the cat") and len(text) >= len("the cat") + 12 and len(next_token) == 3


def test_zoo_predict_from_the_command_line_writes_the_file_and_prints_its_rows(trained, tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    image = next((trained["photos"] / "test" / "dog").glob("*.png"))
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "predict", f"ckpt_path={trained['cnn']}", f"inputs={image}",
         f"hydra.run.dir={tmp_path / 'p'}"], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "predictions (1 inputs, 0 skipped)" in done.stdout and image.name in done.stdout
    assert (tmp_path / "p" / "predictions.csv").read_text().startswith("input,status,predicted,probability,top_k\n")


BROWSER = ("/usr/bin/chromium", "/usr/bin/chromedriver")


@pytest.mark.slow
@pytest.mark.skipif(not all(Path(p).exists() for p in BROWSER), reason="needs Debian's chromium and chromium-driver")
def test_the_demo_page_answers_in_a_real_browser(trained, tmp_path):
    """evaluate.py mode=demo serves on 127.0.0.1; headless Chromium uploads an image, clicks, reads the answer."""
    import re
    import signal
    import subprocess
    import sys
    import time

    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.conftest import ROOT

    server = subprocess.Popen(
        [sys.executable, str(ROOT / "evaluate.py"), f"ckpt_path={trained['cnn']}", "mode=demo", "port=0",
         f"hydra.run.dir={tmp_path / 'demo'}"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url = None
        started = time.time()
        while url is None and time.time() - started < 120:
            line = server.stdout.readline()
            found = re.search(r"the demo page is at (http://127\.0\.0\.1:\d+/)", line)
            url = found.group(1) if found else None
        assert url, "the page did not start"
        options = webdriver.ChromeOptions()
        options.binary_location = BROWSER[0]
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage"):  # fmt: skip
            options.add_argument(flag)
        browser = webdriver.Chrome(service=Service(BROWSER[1]), options=options)
        try:
            browser.get(url)
            wait = WebDriverWait(browser, 60)
            image = next((trained["photos"] / "test" / "owl").glob("*.png"))
            wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "#image input[type=file]")).send_keys(str(image))
            wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "#image img"))
            browser.find_element(By.ID, "submit").click()
            shown = wait.until(lambda b: b.find_element(By.ID, "answer").text if "%" in b.find_element(
                By.ID, "answer").text else False)  # fmt: skip
        finally:
            browser.quit()
        expected = api.predict(trained["cnn"], str(image), output_dir=tmp_path / "p")[0]
        assert expected["predicted"] in shown.splitlines()[1:3]  # the page's headline: the predicted class
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    assert server.returncode == 0
    assert '"answered": 1' in (tmp_path / "demo" / "metrics.json").read_text()


def test_a_value_only_the_user_can_give_is_asked_for_by_its_key(tmp_path):
    with pytest.raises(UserError, match=r"^data.path has no value, and this data config needs one: pass data.path="):
        api.train("model=lstm_lm", "data=text", output_dir=tmp_path / "r")
