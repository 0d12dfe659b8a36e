"""The generated long-range corpus: a cue word decides a word many tokens later (the lecture's LSTM slide)."""

from __future__ import annotations

import math
from typing import Annotated

import torch

from datamodules.text import EOS, StreamDataModule, Vocab
from zoo.errors import UserError
from zoo.ranges import Count, Range, Seed

# --- the long-range dependency corpus -----------------------------------------------------------
CUES = [
    "france",
    "germany",
    "spain",
    "italy",
    "china",
    "japan",
    "brazil",
    "russia",
    "greece",
    "turkey",
    "poland",
    "sweden",
    "norway",
    "egypt",
    "korea",
    "india",
]
TARGETS = [
    "french",
    "german",
    "spanish",
    "italian",
    "chinese",
    "japanese",
    "portuguese",
    "russian",
    "greek",
    "turkish",
    "polish",
    "swedish",
    "norwegian",
    "arabic",
    "korean",
    "hindi",
]
FILLERS = [
    "i",
    "grew",
    "up",
    "but",
    "now",
    "live",
    "in",
    "boston",
    "the",
    "food",
    "was",
    "good",
    "not",
    "bad",
    "at",
    "all",
    "we",
    "went",
    "there",
    "often",
    "and",
    "it",
    "rained",
    "a",
    "lot",
    "so",
    "what",
    "then",
]
MARKER = "fluent"


class LongRangeDataModule(StreamDataModule):
    """Sentences "<cue> filler... fluent <target> <eos>", after the slide "France is where I grew up,
    but I now live in Boston. I speak fluent ???".

    The cue (a country) is uniform; the target (its language) is fixed by the cue and comes exactly
    `distance` tokens later; the `distance - 2` fillers between follow a small random grammar (each
    filler may be followed by `branching` others: a Markov chain drawn once from `seed`) and carry no
    information about the cue. Because the
    generator is known, the optimal predictor's loss on every token is known too (`optimal_nll`):
    log(n_cues) at a cue, -log P(filler | previous filler) inside, 0 at the marker, target and <eos>.
    """

    def __init__(
        self,
        distance: Annotated[int, Range(2, 10**5, note="cue, ..., marker, target")] = 50,
        n_cues: Annotated[int, Range(1, len(CUES))] = 8,
        n_fillers: Annotated[int, Range(2, len(FILLERS))] = 16,
        branching: Count = 4,
        train_sentences: Count = 4000,
        val_sentences: Count = 400,
        test_sentences: Count = 400,
        batch_size: Count = 16,
        bptt: Count | None = None,
        shuffle: bool = True,
        seed: Seed = 0,
    ):
        # Every row of the stream starts with a sentence and, by default, every window holds two whole
        # sentences: then truncated BPTT never cuts a target off from its cue (bptt=N for other cuts).
        super().__init__(batch_size, 2 * (distance + 2) if bptt is None else bptt, seed)
        self.shuffle_units = distance + 2 if shuffle else None  # the sentences are independent
        too_few = {
            k: v
            for k, v in (("train", train_sentences), ("val", val_sentences), ("test", test_sentences))
            if v < batch_size
        }
        if too_few:
            raise UserError(
                f"data.{'/'.join(too_few)}_sentences must be at least data.batch_size={batch_size} "
                f"(one sentence per row), got {too_few}"
            )
        self.distance, self.n_cues, self.n_fillers, self.branching = distance, n_cues, n_fillers, branching
        self.sizes = {"train": train_sentences, "val": val_sentences, "test": test_sentences}
        self.optimal_nll: dict[str, float] = {}

    def load(self) -> None:
        g = torch.Generator().manual_seed(self.seed)
        words = [EOS, MARKER] + CUES[: self.n_cues] + TARGETS[: self.n_cues] + FILLERS[: self.n_fillers]
        self.vocab = Vocab(words)
        cue0, target0, filler0 = 2, 2 + self.n_cues, 2 + 2 * self.n_cues
        # The grammar: each filler may be followed by `branching` others, with weights U(0.1, 1.1) normalised.
        transitions = self.grammar(g)
        n_between = self.distance - 2
        for split, n in self.sizes.items():
            n -= n % self.batch_size  # whole sentences in every row of the batchified stream
            cues = torch.randint(self.n_cues, (n,), generator=g)
            fillers = torch.empty(n, n_between, dtype=torch.long)
            nll = torch.zeros(n, self.distance + 2)  # per position: cue, fillers..., marker, target, eos
            nll[:, 0] = math.log(self.n_cues)
            if n_between:
                fillers[:, 0] = torch.randint(self.n_fillers, (n,), generator=g)
                nll[:, 1] = math.log(self.n_fillers)
                for i in range(1, n_between):
                    probs = transitions[fillers[:, i - 1]]
                    fillers[:, i] = torch.multinomial(probs, 1, generator=g).squeeze(1)
                    nll[:, 1 + i] = -probs.gather(1, fillers[:, i : i + 1]).squeeze(1).log()
            sentences = torch.cat(
                [
                    (cue0 + cues)[:, None],
                    filler0 + fillers,
                    torch.full((n, 1), 1),
                    (target0 + cues)[:, None],
                    torch.zeros(n, 1, dtype=torch.long),
                ],
                1,
            )
            is_target = torch.zeros_like(sentences, dtype=torch.bool)
            is_target[:, self.distance] = True
            self.streams[split] = sentences.flatten()
            self.masks[split] = is_target.flatten()
            self.optimal_nll[split] = self._covered_mean(nll.flatten(), split)

    def grammar(self, g: torch.Generator) -> torch.Tensor:
        """Filler transition matrix: each filler may be followed by `branching` others, with random weights."""
        weights = torch.rand(self.n_fillers, self.n_fillers, generator=g) + 0.1
        allowed = torch.rand(self.n_fillers, self.n_fillers, generator=g).argsort(1) < self.branching
        weights = weights * allowed
        return weights / weights.sum(1, keepdim=True)

    def _covered_mean(self, nll: torch.Tensor, split: str) -> float:
        """Mean optimal loss over exactly the target positions the batched windows predict."""
        rows = len(nll) // self.batch_size
        covered = nll[: rows * self.batch_size].view(self.batch_size, rows)[:, 1:]
        return covered.mean().item()
