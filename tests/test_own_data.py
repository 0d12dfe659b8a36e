"""A user's own data: a folder of images (PNG, JPEG, BMP; grey or colour; any sizes) and a CSV table (numeric and
categorical columns; a class or a number to predict), each trained, evaluated from its checkpoint and refused
in one sentence when it cannot work."""

from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FAST
from zoo.composing import compose
from zoo.errors import UserError
from zoo.run import evaluate, prepare, train, train_run
from zoo.starting import compose_run


def draw(path: Path, shape: str, size: int, colour: bool, rng: random.Random) -> None:
    """A bright disk or square at a random place on a dark, noisy ground."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB" if colour else "L", (size, size), (20, 20, 40) if colour else 20)
    pen = ImageDraw.Draw(image)
    r = size // 4
    cx, cy = rng.randrange(r, size - r), rng.randrange(r, size - r)
    fill = (rng.randrange(180, 256), 200, 60) if colour else rng.randrange(180, 256)
    (pen.ellipse if shape == "disk" else pen.rectangle)([cx - r, cy - r, cx + r, cy + r], fill=fill)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def image_folder(root: Path, n: int = 60, sizes=(16,), colour: bool = False, suffixes=(".png", ".jpg"), seed=0):
    rng = random.Random(seed)
    for shape in ("disk", "square"):
        for i in range(n):
            draw(root / shape / f"{i}{suffixes[i % len(suffixes)]}", shape, sizes[i % len(sizes)], colour, rng)
    return root


IMAGES = ["data=images", "trainer.max_epochs=15", "data.batch_size=16"]


@pytest.mark.parametrize("colour", [False, True], ids=["grey", "colour"])
def test_a_folder_of_images_trains_a_cnn_and_evaluates_from_its_checkpoint(tmp_path, colour):
    folder = image_folder(tmp_path / "shapes", colour=colour)
    overrides = [*FAST, *IMAGES, "model=cnn", f"data.path={folder}", f"data.cache={tmp_path}/c"]
    metrics = train(compose_run("train", overrides, tmp_path / "run"))
    assert metrics["test/acc"] >= 0.8, metrics  # disks and squares are easy to tell apart
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    again = evaluate(compose_run("evaluate", [f"ckpt_path={ckpt}"], tmp_path / "eval"))
    assert again["test/acc"] == metrics["test/acc"]
    import torch

    description = torch.load(ckpt, weights_only=True)["zoo"]["description"]
    assert description["label_names"] == ["disk", "square"] and description["input_shape"] == [
        3 if colour else 1,
        16,
        16,
    ]


def test_images_of_two_sizes_need_data_size_and_then_train_the_autoencoder(tmp_path):
    folder = image_folder(tmp_path / "mixed", sizes=(16, 20), suffixes=(".png", ".jpg", ".bmp"))
    with pytest.raises(UserError, match=re.escape("have 2 sizes (16x16: 60 files; 20x20: 60, e.g.")) as refused:
        prepare(compose_run("train", [*FAST, *IMAGES, "model=autoencoder", f"data.path={folder}"], tmp_path / "r"))
    assert "set data.size=16" in str(refused.value)
    run = ["model=autoencoder", f"data.path={folder}", "data.size=16", f"data.cache={tmp_path}/c"]
    metrics = train(compose_run("train", [*FAST, *IMAGES, *run], tmp_path / "ae"))
    assert metrics["test/recon_mse"] < 0.1 and (tmp_path / "ae" / "reconstructions.png").is_file()


def test_the_decoded_images_are_cached_by_the_folders_content(tmp_path):
    from zoo.build import build_datamodule

    folder = image_folder(tmp_path / "shapes", n=12)
    overrides = ["data=images", f"data.path={folder}", f"data.cache={tmp_path}/cache"]
    first = build_datamodule(compose("train", overrides).data)
    first.prepare_data()
    [cached] = (tmp_path / "cache").iterdir()
    second = build_datamodule(compose("train", overrides).data)
    second.prepare_data()  # read from the cache: the same tensors
    assert (first.decoded()["splits"]["all"][0] == second.decoded()["splits"]["all"][0]).all()
    image_folder(tmp_path / "shapes", n=13)  # one more image per class: another content, another cache file
    third = build_datamodule(compose("train", overrides).data)
    third.prepare_data()
    assert len(list((tmp_path / "cache").iterdir())) == 2 and len(third.decoded()["splits"]["all"][0]) == 26


def test_fixed_train_and_test_folders_keep_their_test_images(tmp_path):
    image_folder(tmp_path / "split" / "train", n=20)
    image_folder(tmp_path / "split" / "test", n=6, seed=1)
    run = prepare(compose_run("train", [*FAST, *IMAGES, "model=cnn", f"data.path={tmp_path}/split"], tmp_path / "r"))
    sizes = {name: len(split) for name, split in run.datamodule.splits.items()}
    assert sizes == {"train": 36, "val": 4, "test": 12}


def test_a_val_folder_is_the_validation_split_and_what_is_not_read_is_said(tmp_path, capsys):
    image_folder(tmp_path / "split" / "train", n=20, suffixes=(".png", ".gif", ".webp", ".tiff"))
    image_folder(tmp_path / "split" / "val", n=3, seed=2)
    image_folder(tmp_path / "split" / "test", n=6, seed=1)
    nested = tmp_path / "split" / "train" / "disk" / "more"
    draw(nested / "deep.png", "disk", 16, False, random.Random(3))  # a sub-folder of a class: read, as ImageFolder
    (tmp_path / "split" / "train" / "disk" / "notes.txt").write_text("not an image")
    run = prepare(compose_run("train", [*FAST, *IMAGES, "model=cnn", f"data.path={tmp_path}/split"], tmp_path / "r"))
    sizes = {name: len(split) for name, split in run.datamodule.splits.items()}
    assert sizes == {"train": 41, "val": 6, "test": 12}
    said = capsys.readouterr().out
    assert (
        f"read 59 images in 2 classes from {tmp_path}/split (train/, val/, test/); skipped 1 files that are no "
        "images: 1 .txt" in said
    ), said
    (tmp_path / "split" / "test").rename(tmp_path / "split" / "held_out")
    with pytest.raises(UserError, match="holds train/ and val/ but no test/"):
        prepare(compose_run("train", [*FAST, *IMAGES, "model=cnn", f"data.path={tmp_path}/split"], tmp_path / "s"))


def bad_folders(root: Path) -> dict[str, tuple[Path, str]]:
    """Folders that cannot work, each with the sentence it gets."""
    cases = {}
    empty_class = image_folder(root / "empty_class", n=6)
    (empty_class / "cat").mkdir()
    cases["a class folder without images"] = (empty_class, f"the class folder {empty_class}/cat holds no images")
    broken = image_folder(root / "broken", n=6)
    (broken / "disk" / "bad.png").write_bytes(b"\x89PNG not really")
    cases["an unreadable file"] = (broken, f"{broken}/disk/bad.png cannot be read as an image")
    mixed = image_folder(root / "mixed", n=6)
    draw(mixed / "loose.png", "disk", 16, False, random.Random(0))
    cases["images beside class folders"] = (mixed, "holds both images (loose.png, ...) and class folders")
    nothing = root / "nothing"
    nothing.mkdir()
    cases["no images at all"] = (nothing, "holds no images and no class folders")
    cases["a file, not a folder"] = (broken / "disk" / "0.png", "is not a folder; give a folder of images")
    one = root / "one_class"
    for i in range(12):
        draw(one / "disk" / f"{i}.png", "disk", 16, False, random.Random(i))
    cases["one class only"] = (one, "model cnn tells classes apart, but data=images holds one class only (['disk'])")
    dots = image_folder(root / "dots", n=6, sizes=(1,))
    cases["images of one pixel"] = (dots, f"the images of {dots} are 1x1 pixels, outside the 4 to 4096")
    return cases


def test_each_unusable_image_folder_is_one_sentence_naming_it(tmp_path):
    for name, (folder, sentence) in bad_folders(tmp_path).items():
        with pytest.raises(UserError, match=re.escape(sentence)) as refused:
            prepare(compose_run("train", [*FAST, *IMAGES, "model=cnn", f"data.path={folder}"], tmp_path / "r"))
        assert "\n" not in str(refused.value), name


def test_a_checkpoint_trained_on_a_folder_refuses_a_folder_with_other_classes(tmp_path):
    folder = image_folder(tmp_path / "shapes")
    train(
        compose_run(
            "train", [*FAST, *IMAGES, "model=cnn", "trainer.max_epochs=1", f"data.path={folder}"], tmp_path / "r"
        )
    )
    other = tmp_path / "other"
    image_folder(other)
    (other / "square").rename(other / "triangle")
    ckpt = tmp_path / "r" / "checkpoints" / "best.ckpt"
    overrides = [f"ckpt_path={ckpt}", f"++data.path={other}"]
    with pytest.raises(UserError, match=re.escape("label_names (['disk', 'square'] vs ['disk', 'triangle'])")):
        evaluate(compose_run("evaluate", overrides, tmp_path / "e"))


# --- tables ---------------------------------------------------------------------------------------------------
def write_table(path: Path, n: int = 240, seed: int = 0, missing: bool = False) -> Path:
    """A table with two numeric columns, a categorical one, a class label and a numeric target that follow them."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        size, weight, colour = rng.normal(10, 3), rng.normal(50, 10), rng.choice(["red", "green", "blue"])
        price = 2 * size + 0.5 * weight + {"red": 10, "green": 0, "blue": -10}[colour] + rng.normal(0, 1)
        kind = "big" if size + (colour == "red") * 3 > 11 else "small"
        rows.append([f"{size:.3f}", "" if missing and i == 5 else f"{weight:.2f}", colour, kind, f"{price:.3f}"])
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows([["size", "weight", "colour", "kind", "price"], *rows])
    return path


def test_a_table_trains_the_mlp_for_classification_and_for_regression(tmp_path):
    table = write_table(tmp_path / "items.csv")
    common = [*FAST, "model=mlp", "data=table", f"data.path={table}", "trainer.max_epochs=30"]
    classified = train(compose_run("train", [*common, "data.target=kind"], tmp_path / "kind"))
    assert classified["test/acc"] >= 0.85 and (tmp_path / "kind" / "confusion_matrix.png").is_file()
    regressed = train(compose_run("train", [*common, "data.target=price"], tmp_path / "price"))
    assert regressed["test/r2"] >= 0.9 and regressed["test/rmse"] > 0 and "test/acc" not in regressed
    assert (tmp_path / "price" / "predicted_vs_true.png").is_file()
    ckpt = tmp_path / "price" / "checkpoints" / "best.ckpt"
    again = evaluate(compose_run("evaluate", [f"ckpt_path={ckpt}"], tmp_path / "eval"))
    assert again["test/r2"] == pytest.approx(regressed["test/r2"], abs=1e-6)
    record = json.loads((tmp_path / "price" / "metrics.json").read_text())
    assert record["test/mae"] <= record["test/rmse"]


def test_a_missing_value_is_refused_or_filled_as_asked(tmp_path):
    table = write_table(tmp_path / "gaps.csv", missing=True)
    base = [*FAST, "model=mlp", "data=table", f"data.path={table}", "data.target=price"]
    with pytest.raises(UserError, match=re.escape(f"{table}, line 7: column 'weight' has no value; data.missing=fill")):
        prepare(compose_run("train", base, tmp_path / "r"))
    run = prepare(compose_run("train", [*base, "data.missing=fill"], tmp_path / "f"))
    assert run.datamodule.description.task == "regression"


@pytest.mark.parametrize(
    "make, overrides, sentence",
    [
        (lambda p: write_table(p), ["data.target=cost"], "data.target='cost' is not a column of"),
        (lambda p: write_table(p), ["data.target=price", "data.categorical=refuse"], "column 'colour' of"),
        (lambda p: p.write_text("only,a,header\n") and p, ["data.target=only"], "holds no table"),
        (lambda p: p.write_text("a,b\n1,2\n3\n") and p, ["data.target=a"], "line 3: 1 values for the 2 columns"),
        (lambda p: write_table(p), ["data.target=colour", "data.task=regression"], "needs a numeric target"),
    ],
    ids=["unknown-target", "categories-refused", "no-rows", "ragged", "labels-as-numbers"],
)
def test_each_unusable_table_is_one_sentence(tmp_path, make, overrides, sentence):
    table = make(tmp_path / "t.csv")
    with pytest.raises(UserError, match=re.escape(sentence)):
        prepare(
            compose_run("train", [*FAST, "model=mlp", "data=table", f"data.path={table}", *overrides], tmp_path / "r")
        )


def test_the_bundled_tables_train_and_a_regression_beats_the_least_squares_line(tmp_path):
    from sklearn.linear_model import LinearRegression

    iris = train(
        compose_run("train", [*FAST, "model=perceptron", "data=iris", "trainer.max_epochs=60"], tmp_path / "iris")
    )
    assert iris["test/acc"] >= 0.85
    cfg = compose_run(
        "train", ["trainer=cpu", "callbacks.progress_bar=null", "model=mlp", "data=diabetes"], tmp_path / "d"
    )
    diabetes = train(cfg)
    data = prepare(compose_run("train", ["trainer=cpu", "model=mlp", "data=diabetes"], tmp_path / "p")).datamodule
    splits = {name: (split.x.numpy(), split.y.numpy()) for name, split in data.splits.items()}
    line = LinearRegression().fit(*splits["train"])
    assert diabetes["test/r2"] >= line.score(*splits["test"]) - 1e-9, (diabetes["test/r2"], line.score(*splits["test"]))
    with pytest.raises(UserError, match="model gan learns from .* but data=iris holds rows; pick"):
        prepare(compose_run("train", [*FAST, "model=gan", "data=iris"], tmp_path / "g"))


@pytest.mark.parametrize("data", ["iris", "wine", "breast_cancer", "diabetes"])
def test_every_bundled_table_trains_and_tests(data, tmp_path):
    trained = train_run(compose_run("train", [*FAST, "model=mlp", f"data={data}"], tmp_path))
    metrics, test_y = trained.metrics, trained.datamodule.splits["test"].y
    if data == "diabetes":  # better than predicting the mean, after three epochs
        assert 0 < metrics["test/r2"] <= 1, metrics
    else:  # better than always answering the commonest class of the test split
        assert metrics["test/acc"] > test_y.bincount().max().item() / len(test_y), metrics
