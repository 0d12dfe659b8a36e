"""The file readers on generated files: a table or an image folder means what the file says, or is one sentence.

Like tests/test_surface.py for the command line: random tables (separators, decimal marks, thousands separators,
quoted cells, infinities and missing spellings, duplicate names, identifier columns, sizes, encodings) and
images of every PIL mode and several formats. A table read is held to the truth it was written from (every
number, every category, the target); an image to the gradient it was drawn with. A sample runs in the default
suite, the rest in the slow one.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.images import decode
from datamodules.table import TableDataModule
from zoo.errors import UserError

COLOURS = ["red", "green", "blue", "amber", "grey"]


def written(value: float, decimal: str, thousands: str) -> str:
    """A number as a spreadsheet in that locale would write it."""
    whole, _, fraction = f"{abs(value):.3f}".partition(".")
    if thousands:
        whole = f"{int(whole):,}".replace(",", thousands)
    return f"{'-' if value < 0 else ''}{whole}{decimal}{fraction}"


def table_case(rng: random.Random, folder: Path, i: int) -> dict:
    """A table file and the truth it was written from."""
    rows = rng.choice([2, 3, 6, 12, 40, 120])
    sep = rng.choice([",", ";", "\t"])
    decimal = rng.choice([".", "."] + ([","] if sep != "," else []))
    thousands = rng.choice(["", "", ",", " "]) if decimal == "." else rng.choice(["", "."])
    big = rng.random() < 0.5  # numbers above 1000 show the thousands separator
    truth = {
        "size": [rng.uniform(-5, 5) * (3000 if big else 1) for _ in range(rows)],
        "colour": [rng.choice(COLOURS[: rng.randint(2, 5)]) for _ in range(rows)],
    }
    target_numeric = rng.random() < 0.5
    labels = [rng.choice("ab") for _ in range(rows)]
    truth["y"] = [rng.uniform(0, 10) for _ in range(rows)] if target_numeric else labels
    cells = {
        "size": [written(v, decimal, thousands) for v in truth["size"]],
        "colour": list(truth["colour"]),
        "y": [written(v, decimal, thousands) if target_numeric else v for v in truth["y"]],
    }
    missing = set()
    if rng.random() < 0.3:  # a measurement that was not made, spelled one way or another
        row = rng.randrange(rows)
        cells["size"][row] = rng.choice(["inf", "-inf", "NaN", "", "?", "NA"])
        missing.add(row)
    broken = rng.random() < 0.15 and rows >= 6
    if broken:
        cells["size"][rng.randrange(rows)] = "n.a. (sensor off)"
    names = ["size", "colour", "y"]
    if rng.random() < 0.1:
        names[1] = "size"  # two columns of one name
    if rng.random() < 0.15:  # an identifier: a new value on every row
        cells["id"], truth["id"] = [f"row-{k:05d}" for k in range(rows)], None
        names.append("id")
    keys = ["size", "colour", "y", "id"][: len(names)]
    quote = sep == "," and (decimal == "," or thousands == ",")
    line = lambda values: sep.join(f'"{v}"' if quote or sep in v else v for v in values)  # noqa: E731
    text = "\n".join([line(names), *(line([cells[k][r] for k in keys]) for r in range(rows))]) + "\n"
    path = folder / f"table{i}.csv"
    path.write_text(text, encoding=rng.choice(["utf-8", "utf-8-sig"]))
    told = rng.random() < 0.7  # the user says how the numbers are written, or leaves the defaults
    options = {"sep": sep, "decimal": decimal, "thousands": thousands} if told else {}
    return {"path": path, "truth": truth, "missing": missing, "broken": broken, "names": names, "told": told,
            "options": options, "target_numeric": target_numeric}  # fmt: skip


def check_table(case: dict) -> str:
    """'read' when the table means what its truth says, 'refused' when it is one sentence; fails otherwise."""
    fill = "fill" if case["missing"] else "refuse"
    data = TableDataModule(str(case["path"]), "y", missing=fill, **case["options"])
    try:
        data.prepare_data()
    except UserError as err:
        sentence = str(err)
        assert "\n" not in sentence and str(case["path"]) in sentence or "data." in sentence, sentence
        return "refused"
    assert len(set(case["names"])) == len(case["names"]), "a table with a duplicate name was read"
    assert not case["broken"], "a column with a broken cell was read"
    assert "id" not in case["names"] or len(case["truth"]["size"]) <= 2 * 50, "an identifier column was one-hot"
    table = data.table()
    encoding = {tuple(e[:1]) if len(e) == 3 else tuple(e): k for k, e in enumerate(table["encoding"])}
    _, mean, std = table["encoding"][encoding[("size",)]]
    read = table["x"][:, encoding[("size",)]].double() * std + mean
    for row, value in enumerate(case["truth"]["size"]):
        if row not in case["missing"]:
            assert read[row].item() == pytest.approx(value, rel=1e-5, abs=1e-3), (row, value, read[row].item())
    for row, colour in enumerate(case["truth"]["colour"]):
        column = encoding.get(("colour", colour))
        if column is not None:  # a colour only the held-out rows have reads as all zeros
            assert table["x"][row, column] == 1, (row, colour)
    y = table["y"]
    if table["task"] == "regression":
        mean, std = table["scale"]
        assert torch.allclose(y.double() * std + mean, torch.tensor(case["truth"]["y"]).double(), atol=1e-3)
    else:
        names = [table["labels"][k] for k in y.tolist()]
        expected = [written(v, ".", "") if case["target_numeric"] else v for v in case["truth"]["y"]]
        if case["target_numeric"]:  # numbers with few values may be classes: their values, not their spelling
            assert [float(n.replace(",", ".")) for n in names] == pytest.approx([float(e) for e in expected])
        else:
            assert names == expected
    return "read"


def check_tables(folder: Path, n: int, seed: int) -> dict:
    rng, counts = random.Random(seed), {"read": 0, "refused": 0}
    for i in range(n):
        counts[check_table(table_case(rng, folder, i))] += 1
    return counts


def test_a_sample_of_generated_tables_reads_as_written_or_says_one_sentence(tmp_path):
    counts = check_tables(tmp_path, 60, seed=1)
    assert counts["read"] >= 10 and counts["refused"] >= 10, counts


@pytest.mark.slow
def test_many_generated_tables_read_as_written_or_say_one_sentence(tmp_path):
    counts = check_tables(tmp_path, 1500, seed=2)
    assert counts["read"] >= 300 and counts["refused"] >= 300, counts


# --- images -----------------------------------------------------------------------------------------------------
def gradient_image(mode: str, rng: np.random.Generator):
    """An image of `mode` whose brightness rises from left to right (over its mode's whole range)."""
    from PIL import Image

    ramp = np.tile(np.linspace(0, 1, 32), (16, 1))
    if mode in ("I;16", "I"):
        return Image.fromarray((ramp * 65535).astype(np.uint16 if mode == "I;16" else np.int32))
    if mode == "F":
        return Image.fromarray((ramp * rng.choice([1.0, 1000.0])).astype(np.float32), "F")
    grey = Image.fromarray((ramp * 255).astype(np.uint8), "L")
    if mode == "CMYK":
        return Image.merge("CMYK", [Image.new("L", grey.size, 0)] * 3 + [grey.point(lambda v: 255 - v)])
    if mode == "RGBA":
        return Image.merge("RGBA", [grey, grey, grey, Image.new("L", grey.size, 255)])
    return grey.convert(mode)


FORMATS = {"L": ["png", "jpeg", "tiff", "gif", "webp"], "I;16": ["png", "tiff"], "I": ["tiff"], "F": ["tiff"],
           "P": ["png", "gif"], "RGB": ["png", "jpeg", "webp"], "RGBA": ["png", "webp"], "CMYK": ["jpeg", "tiff"],
           "LA": ["png"], "1": ["png", "tiff"]}  # fmt: skip


@pytest.mark.parametrize("mode", sorted(FORMATS))
def test_an_image_of_any_mode_keeps_its_brightness(tmp_path, mode):
    rng = np.random.default_rng(0)
    for extension in FORMATS[mode]:
        path = tmp_path / f"{mode.replace(';', '_')}.{extension}"
        gradient_image(mode, rng).save(path)
        for served in ("L", "RGB"):
            array = decode(path, served, None).astype(float).mean(0)  # channels averaged
            columns = array.mean(0)
            assert columns[-1] - columns[0] >= 200, (mode, extension, served, columns[[0, -1]])  # not blank, clipped
            assert np.corrcoef(columns, np.arange(len(columns)))[0, 1] > 0.9, (mode, extension, served)


# --- the examples the rules were written for --------------------------------------------------------------------
EXAMPLES = {  # name -> (file text, options, the sentence, or None when it reads; then the size column's values)
    "inf in a feature": ("size,kind\n" + "1.5,a\ninf,b\n2.5,a\n3.5,b\n" * 5, {}, "column 'size' has no value", None),
    "inf in a feature, filled": ("size,kind\n" + "1.5,a\ninf,b\n2.5,a\n3.5,b\n" * 5, {"missing": "fill"}, None, 1.5),
    "inf in the target": ("size,kind\n" + "1.5,1.0\n2.5,inf\n3.5,2.0\n" * 5, {"target": "kind"}, "is missing", None),
    "a European export": ("size;kind\n" + "1,5;a\n2,5;b\n3,25;a\n" * 5, {}, "data.decimal=, reads 1,5 as 1.5", None),
    "a European export, said": ("size;kind\n" + "1,5;a\n2,5;b\n3,25;a\n" * 5, {"decimal": ","}, None, 1.5),
    "quoted thousands": ("size,kind\n" + '"1,737",a\n"2,001",b\n"950",a\n' * 5, {}, "data.thousands", None),
    "quoted thousands, said": ("size,kind\n" + '"1,737",a\n"2,001",b\n"950",a\n' * 5, {"thousands": ","}, None, 1737.0),
    "a target named twice": ("a,kind,kind\n" + "1,a,b\n2,b,a\n" * 8, {}, "names 1 column(s) twice ('kind')", None),
    "a feature named twice": ("size,size,kind\n" + "1,2,a\n2,1,b\n" * 8, {}, "names 1 column(s) twice ('size')", None),
}


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_each_example_means_what_its_file_says_or_is_one_sentence(tmp_path, name):
    text, options, sentence, first = EXAMPLES[name]
    path = tmp_path / "table.csv"
    path.write_text(text)
    data = TableDataModule(str(path), options.pop("target", "kind"), **options)
    if sentence is not None:
        with pytest.raises(UserError, match=re.escape(sentence)) as refused:
            data.prepare_data()
        assert "\n" not in str(refused.value) and "table.csv" in str(refused.value)
        return
    table = data.table()
    _, mean, std = table["encoding"][0]
    assert table["x"][0, 0].item() * std + mean == pytest.approx(first)


@pytest.mark.slow
def test_an_identifier_column_of_100k_rows_is_refused_before_any_one_hot_work(tmp_path):
    import tracemalloc

    path = tmp_path / "ids.csv"
    path.write_text("id,x,y\n" + "".join(f"user-{i:06d},{i % 7},{'ab'[i % 2]}\n" for i in range(100_000)))
    tracemalloc.start()
    with pytest.raises(UserError, match="'id' of .* takes 65000 values in 65000 training rows: an identifier"):
        TableDataModule(str(path), "y").prepare_data()
    assert tracemalloc.get_traced_memory()[1] < 2**30  # far less: the cells as text, no one-hot matrix
    tracemalloc.stop()
