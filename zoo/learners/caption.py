"""Image captioning: an image in, a sentence out (slide "Beyond Classification").

Training maximises the log-likelihood of the true caption word by word given the image and the
words before (teacher forcing); the test generates captions from the images alone and reports the
share of exactly right captions (test/exact) and the corpus BLEU-4 (test/bleu4, torchmetrics):
the geometric mean of 1- to 4-gram precisions times a brevity penalty (Papineni et al. 2002).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import torch
import torch.nn.functional as F
from torchmetrics.text import BLEUScore

from datamodules.scenes import SPECIALS, decode_caption
from zoo.files import write_whole
from zoo.learners.base import Evaluation, Learner
from zoo.ranges import Count, Range

PAD, BOS, EOS = SPECIALS
SHOWN = 8  # images captioned in the pictures and by mode=generate


class Captioner(Learner):
    """Cross-entropy of each next caption word; `beam_size` and `max_length` rule generation."""

    instead = "evaluate.py mode=generate writes its captions of the test images"

    data_kinds = ("scenes",)
    generates_from_data = True  # mode=generate captions the data's test scenes

    @classmethod
    def net_sizes(cls, data) -> dict:
        return {
            "input_shape": data.input_shape,
            "vocab_size": data.vocab_size,
            "bos": data.vocab.index(BOS),
            "eos": data.vocab.index(EOS),
        }

    @dataclass(frozen=True)
    class Options(Learner.Options):
        beam_size: Count = 3
        max_length: Annotated[int, Range(1, 1000)] = 12

    def start(self) -> None:
        self.pad = self.data.vocab.index(PAD)
        self.bleu = BLEUScore(n_gram=4)

    def words(self, ids) -> str:
        """A caption's text: its words up to <eos> (or padding), without <bos>."""
        return decode_caption(ids, self.data.vocab)

    def caption(self, images: torch.Tensor) -> list[str]:
        self.eval()
        return [self.words(ids) for ids in self.net.generate(images, self.max_length, self.beam_size)]

    def _step(self, batch, split: str) -> torch.Tensor:
        x, targets = batch
        caption = targets["caption"]
        scores = self.net(x, caption[:, :-1])
        loss = F.cross_entropy(scores.flatten(0, 1), caption[:, 1:].flatten(), ignore_index=self.pad)
        self.accumulate(split, len(x), loss=loss)
        if split == "test":
            said, truth = self.caption(x), [self.words(ids) for ids in caption]
            self.accumulate(split, len(x), exact=sum(s == t for s, t in zip(said, truth)) / len(x))
            self.bleu.update(said, [[t] for t in truth])
        return loss

    def on_test_epoch_end(self):
        super().on_test_epoch_end()
        self.log_epoch("test", {"bleu4": float(self.bleu.compute())})
        self.bleu.reset()

    def captioned(self, datamodule, out_dir: Path) -> tuple[list[str], Path]:
        """Captions of the first test scenes, with the true ones, as lines and as a picture."""
        from zoo import plots

        images = datamodule.inputs("test")[:SHOWN]
        said = self.caption(images.to(self.device))
        truth = [self.words(ids) for ids in datamodule.splits["test"].y["caption"][:SHOWN]]
        lines = [f"{s}   (true: {t})" for s, t in zip(said, truth)]
        return lines, plots.captioned(images, said, out_dir / "captions.png")

    def save_figures(self, out_dir: Path, datamodule) -> list[Path]:
        return [self.captioned(datamodule, out_dir)[1]]

    def generate(self, out_dir: Path, datamodule, evaluation: Evaluation) -> str:
        """evaluate.py mode=generate: captions of the first test scenes, printed and saved as generated.txt."""
        lines, _ = self.captioned(datamodule, out_dir)
        text = "\n".join(lines)
        write_whole(out_dir / "generated.txt", text + "\n")
        print(text)
        return text
