"""Beyond classification: scenes, the autoencoder, segmentation, detection and captioning."""

import itertools
import json
import math
import re

import pytest
import torch

from datamodules.description import DataDescription
from datamodules.scenes import EOS, VOCAB, ScenesDataModule, caption_words, decode_caption
from tests.conftest import FAST, write_idx
from zoo.build import build_model
from zoo.errors import UserError
from zoo.learners.detect import Detector
from zoo.nets.captioner import ShowAndTell
from zoo.run import evaluate, train
from zoo.starting import compose_run

SMALL_SCENES = ["data=scenes", "data.train_size=96", "data.val_size=32", "data.test_size=32", "data.batch_size=32"]


def scenes(**kwargs) -> ScenesDataModule:
    return ScenesDataModule(**{"train_size": 40, "val_size": 8, "test_size": 20, **kwargs})


def test_scenes_hold_what_each_task_needs_and_follow_the_seed():
    data = scenes()
    test = data.splits["test"]
    assert test.x.shape == (20, 1, 48, 48) and 0 <= test.x.min() and test.x.max() <= 1
    for i in range(20):
        labels, boxes = test.y["labels"][i], test.y["boxes"][i]
        mask = test.y["mask"][i]
        present = labels[labels >= 0]
        assert 1 <= len(present) <= 4
        assert set((mask[mask > 0] - 1).tolist()) == set(present.tolist())  # the mask's classes are the objects'
        for (x1, y1, x2, y2), label in zip(boxes[labels >= 0].int().tolist(), present.tolist()):
            inside = mask[y1:y2, x1:x2] == label + 1
            assert inside.any(0)[[0, -1]].all() and inside.any(1)[[0, -1]].all()  # tight around the digit's ink
        words = decode_caption(test.y["caption"][i]).split()
        assert sorted(w for w in words if w.isdigit()) == sorted(str(d) for d in present.tolist())
    again = scenes().splits["test"]
    assert torch.equal(again.x, test.x) and torch.equal(again.y["caption"], test.y["caption"])
    assert not torch.equal(scenes(seed=1).splits["test"].x, test.x)


def test_scenes_from_mnist_files_or_one_sentence_without_them(tmp_path):
    with pytest.raises(UserError, match="MNIST is not in .* data.download=true"):
        scenes(source="mnist", root=str(tmp_path)).splits  # noqa: B018
    write_idx(tmp_path / "MNIST" / "raw", n_train=200, n_test=60)
    data = scenes(source="mnist", root=str(tmp_path))
    assert data.splits["train"].x.shape == (40, 1, 48, 48) and data.splits["test"].y["mask"].max() > 0


def test_captions_follow_the_grammar():
    assert caption_words([3], [(0, 1)]) == ["a", "3"]
    assert caption_words([7, 3], [(1, 1), (1, 0)]) == ["a", "3", "left", "of", "a", "7"]
    assert caption_words([8, 1], [(0, 1), (1, 0)]) == ["an", "8", "above", "a", "1"]
    assert caption_words([5, 2, 9], [(1, 0), (0, 1), (0, 0)]) == ["three", "digits", "9", "2", "5"]


@pytest.mark.parametrize(
    "override, sentence",
    [
        ("data.max_digits=5", "data.max_digits must be an integer from 1 to 4 (the captions name at most four)"),
        ("data.canvas=16", "data.digit_size must be at least 4 pixels and fit the canvas"),
        ("data.source=svhn", "data.source must be one of digits, mnist"),
        ("data.train_size=0", "data.train_size must be an integer from 1 to 10^7, got 0"),
    ],
)
def test_impossible_scenes_are_one_sentence(compose_train, override, sentence):
    from zoo.run import prepare

    with pytest.raises(UserError, match=re.escape(sentence)):
        prepare(compose_train("model=segmenter", "data=scenes", override))


@pytest.mark.parametrize("model, data", [("detector", "digits"), ("segmenter", "moons"), ("autoencoder", "scenes")])
def test_a_task_on_data_without_its_targets_is_one_sentence(model, data, compose_train):
    with pytest.raises(UserError, match=f"model {model} learns from .* but data={data} holds"):
        train(compose_train(f"model={model}", f"data={data}"))


def test_mean_average_precision_and_iou_match_hand_computed_cases():
    """A box found exactly scores AP 1; a box of the wrong class adds a false positive; IoU is overlap/union."""
    from torchmetrics.detection import MeanAveragePrecision
    from torchvision.ops import box_iou

    a, b = torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.tensor([[5.0, 0.0, 15.0, 10.0]])
    assert box_iou(a, b).item() == pytest.approx(50 / 150)
    truth = [
        {"boxes": torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]]), "labels": torch.tensor([1, 2])}
    ]
    exact = MeanAveragePrecision(box_format="xyxy")
    exact.update([{**truth[0], "scores": torch.tensor([0.9, 0.8])}], truth)
    assert exact.compute()["map_50"].item() == pytest.approx(1.0)
    one_wrong = MeanAveragePrecision(box_format="xyxy")
    one_wrong.update([{**truth[0], "labels": torch.tensor([1, 3]), "scores": torch.tensor([0.9, 0.8])}], truth)
    # class 1: AP 1; class 2: never found, AP 0; class 3: no true box, left out of the mean
    assert one_wrong.compute()["map_50"].item() == pytest.approx(0.5)


def test_the_detector_decodes_a_hand_made_peak_into_its_box(compose_train):
    data = DataDescription("scenes", input_shape=[1, 48, 48], num_classes=10, scaling="unit", vocab=VOCAB)
    cfg = compose_train("model=detector", "data=scenes").cfg
    detector = build_model(cfg.model, data)
    assert isinstance(detector, Detector)
    heat = torch.full((1, 10, 12, 12), -20.0)
    heat[0, 7, 5, 3] = 5.0  # class 7, centre cell row 5, column 3
    size, offset = torch.zeros(1, 2, 12, 12), torch.zeros(1, 2, 12, 12)
    size[0, :, 5, 3] = torch.tensor([8.0, 16.0])
    offset[0, :, 5, 3] = torch.tensor([0.5, 0.25])
    (found,) = detector.decode({"heat": heat, "size": size, "offset": offset})
    centre_x, centre_y = (3 + 0.5) * 4, (5 + 0.25) * 4
    assert found["labels"].tolist() == [7] and found["scores"].item() == pytest.approx(torch.sigmoid(torch.tensor(5.0)))
    expected = [centre_x - 4, centre_y - 8, centre_x + 4, centre_y + 8]
    assert found["boxes"][0].tolist() == pytest.approx(expected)
    # the targets of that box put the peak 1 at the same cell, with that size and offset
    heat_t, cell, size_t, offset_t = detector.targets(torch.tensor([[expected]]), torch.tensor([[7]]), (1, 10, 12, 12))
    assert heat_t[0, 7, 5, 3] == 1 and heat_t.sum() > 1 and heat_t[0, :7].sum() == 0
    assert cell[0, 0].tolist() == [3, 5] and size_t[0, 0].tolist() == [8, 16]
    assert offset_t[0, 0].tolist() == pytest.approx([0.5, 0.25])


def test_the_segmenter_predicts_the_class_of_largest_probability_despite_its_weights(compose_train):
    data = DataDescription("scenes", input_shape=[1, 48, 48], num_classes=2, scaling="unit", vocab=VOCAB)
    segmenter = build_model(
        compose_train("model=segmenter", "data=scenes", "model.background_weight=0.1").cfg.model, data
    )
    # the weighted loss's optimum: scores log(w_c p_c) for p = (0.5, 0.3, 0.2) and w = (0.1, 1, 1)
    scores = torch.tensor([0.1 * 0.5, 0.3, 0.2]).log().view(1, 3, 1, 1)
    assert scores.argmax(1).item() == 1 and segmenter.predict(scores).item() == 0


def test_beam_search_finds_the_most_probable_caption():
    """With a beam as wide as the vocabulary, beam search over 3 words finds the best of all sentences."""
    torch.manual_seed(0)
    vocab = 4
    net = ShowAndTell([1, 8, 8], vocab, bos=0, eos=1, channels=(4,), embedding_dim=8, hidden_size=8).eval()
    image = torch.rand(1, 1, 8, 8)

    def log_prob(words):
        ids = torch.tensor([[0, *words]])
        scores = torch.log_softmax(net(image, ids[:, :-1]), -1)[0]
        return sum(scores[t, w].item() for t, w in enumerate(words))

    def upto_eos(words):
        words = list(words)
        return words[: words.index(1) + 1] if 1 in words else words

    sentences = {tuple(upto_eos(w)) for w in itertools.product(range(vocab), repeat=3)}
    best = max(sentences, key=log_prob)
    assert upto_eos(net.generate(image, max_length=3, beam_size=vocab * vocab)[0].tolist()) == list(best)
    words = []
    while len(words) < 3 and 1 not in words:
        words.append(int(net(image, torch.tensor([[0, *words]]))[0, -1].argmax()))
    assert upto_eos(net.generate(image, max_length=3, beam_size=1)[0].tolist()) == words


def test_bleu_of_exact_captions_is_one():
    from torchmetrics.text import BLEUScore

    bleu = BLEUScore(n_gram=4)
    captions = ["four digits 1 2 3 4", "a 3 left of an 8"]
    assert bleu(captions, [[c] for c in captions]).item() == pytest.approx(1.0)
    assert bleu(["a 3 left of a 7"], [["a 3 above a 7"]]).item() < 0.5


@pytest.mark.parametrize(
    "model, data, metrics",
    [
        ("autoencoder", ["data=digits"], ["test/recon_mse", "test/knn_acc", "test/pca_knn_acc"]),
        ("segmenter", SMALL_SCENES, ["test/miou", "test/pixel_acc"]),
        ("detector", SMALL_SCENES, ["test/map50", "test/map"]),
        ("captioner", SMALL_SCENES, ["test/bleu4", "test/exact"]),
    ],
)
def test_each_task_learns_and_evaluates_from_its_checkpoint(model, data, metrics, tmp_path):
    run = tmp_path / "run"
    result = train(compose_run("train", [*FAST, f"model={model}", *data, "trainer.max_epochs=4"], run))
    history = json.loads((run / "history.json").read_text())
    assert history["train/loss"][-1] < history["train/loss"][0]
    assert all(math.isfinite(result[k]) for k in metrics)
    picture = {"autoencoder": "code.png", "segmenter": "segmentation.png", "detector": "detections.png"}
    assert (run / picture.get(model, "captions.png")).is_file()
    again = evaluate(
        compose_run("evaluate", ["trainer=cpu", f"ckpt_path={run}/checkpoints/best.ckpt"], tmp_path / "eval")
    )
    assert {k: again[k] for k in metrics} == pytest.approx({k: result[k] for k in metrics})


def test_a_captioner_captions_scenes_from_its_checkpoint(tmp_path):
    run = tmp_path / "run"
    train(compose_run("train", [*FAST, "model=captioner", *SMALL_SCENES, "trainer.max_epochs=1"], run))
    overrides = [f"ckpt_path={run}/checkpoints/last.ckpt", "mode=generate", "++data.seed=3"]  # as evaluate.py turns it
    out = evaluate(compose_run("evaluate", ["trainer=cpu", *overrides], tmp_path / "gen"))
    lines = out["generated"].splitlines()
    assert len(lines) == 8 and all("(true: " in line for line in lines)
    assert (tmp_path / "gen" / "captions.png").is_file()
    assert decode_caption([VOCAB.index("a"), VOCAB.index("3"), EOS, VOCAB.index("a")]) == "a 3"


@pytest.mark.parametrize("preset", ["mnist", "fashion_mnist"])
def test_the_autoencoder_learns_the_28x28_sets_from_their_files(preset, tmp_path):
    folder = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}[preset]
    write_idx(tmp_path / "data" / folder / "raw", n_train=200, n_test=60)
    data = [f"data={preset}", f"data.root={tmp_path / 'data'}", "data.download=false", "data.val_size=40"]
    result = train(compose_run("train", [*FAST, "model=autoencoder", *data], tmp_path / "run"))
    assert result["test/recon_mse"] < 0.25 and 0 <= result["test/knn_acc"] <= 1
    assert (tmp_path / "run" / "code.png").is_file()
