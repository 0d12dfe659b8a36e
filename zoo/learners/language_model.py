"""Next-token prediction with truncated backpropagation through time (slides on RNNs and LSTMs).

The corpus is one long stream, cut into `batch_size` parallel rows and read in windows of `bptt`
tokens. The hidden state at the end of a window starts the next one (so information flows across
windows) but is detached (so gradients stop at the window edge: truncated BPTT). Gradient clipping
by norm, the slides' remedy for exploding gradients, is `trainer.gradient_clip_val`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import torch
import torch.nn.functional as F
from lightning.fabric.utilities.apply_func import move_data_to_device

from datamodules.description import DataDescription
from datamodules.text import Vocab, detokenize, prompt_tokens
from zoo.errors import UserError
from zoo.files import write_whole
from zoo.learners.base import Evaluation, Learner
from zoo.learners.classify import class_rows
from zoo.ranges import Positive, Range


class Logits(torch.nn.Module):
    """The language model from a zero state: tokens (batch, time) -> next-token logits (batch, time, vocab)."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.net(tokens)[0]


def detach(hidden):
    if hidden is None:
        return None
    return tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) else hidden.detach()


def gradient_through_time(net, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Norm of dL/dh_t for t = T-1 ... 0, where L is the loss of the last prediction of the window x.

    Index k of the result is k steps back in time: a falling curve is a vanishing gradient, a
    rising one an exploding gradient (slides "Standard RNN gradient flow").
    """
    # cuDNN's fused RNN backward runs only in training mode; the probe runs in eval mode (no dropout)
    with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
        logits, states = net.hidden_per_step(x)
        loss = F.cross_entropy(logits, y[:, -1])
        grads = torch.autograd.grad(loss, states, allow_unused=True)
    return [0.0 if g is None else g.norm().item() for g in grads][::-1]


class LanguageModel(Learner):
    """Cross-entropy of the next token; reports perplexity, bits per character and long-range accuracy."""

    data_kinds = ("tokens",)
    main_metric = "ppl"

    @classmethod
    def net_sizes(cls, data: DataDescription) -> dict:
        return {"vocab_size": data.vocab_size}

    def start(self) -> None:
        self.level = self.data.level
        self.hidden: dict = {}
        self.gradient_probe: dict[str, list[float]] = {}

    def _step(self, batch, split: str):
        x, y = batch[0], batch[1]
        if split == "train" and self.data.train_windows == "random":
            self.hidden.pop(split, None)  # a window at a random place starts from a fresh state
        logits, hidden = self.net(x, self.hidden.get(split))
        self.hidden[split] = detach(hidden)  # carried to the next window, gradient stops here
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        self.accumulate(split, y.numel(), loss=loss)
        if len(batch) > 2:  # the long-range corpus marks the tokens that only the cue determines
            # Accumulated on every batch, even one without such tokens (weight 0), so every DDP
            # process holds the same metric keys when they are summed at the epoch's end.
            cue_dependent = batch[2]
            n = int(cue_dependent.sum())
            hits = (logits.argmax(-1)[cue_dependent] == y[cue_dependent]).float().sum()
            self.accumulate(split, n, longrange_acc=hits / max(n, 1))
        return loss

    def batch_samples(self, batch) -> int:
        return batch[1].numel()  # tokens predicted: samples_per_second is tokens per second

    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        self.hidden.pop("train", None)  # each epoch reads the stream from its start

    def on_validation_epoch_start(self):
        self.hidden.pop("val", None)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        # a checkpoint in the middle of a stream carries its state on into the resumed epoch
        checkpoint["zoo_state"]["carried_state"] = self.hidden.get("train")

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        carried = checkpoint.get("zoo_state", {}).get("carried_state")
        if carried is not None:  # a tensor, or the LSTM's (h, c)
            self.hidden["train"] = move_data_to_device(carried, self.device)

    def on_test_epoch_start(self):
        self.hidden.pop("test", None)

    def on_train_start(self):
        super().on_train_start()
        self.gradient_probe["at initialisation"] = self.probe_gradients()

    def derived_metrics(self, split: str, means: dict) -> dict:
        """Perplexity exp(loss) for every model, bits per character for character models."""
        extra = {}
        if "loss" in means:
            extra["ppl"] = math.exp(min(means["loss"], 50.0))
            if self.level == "char":
                extra["bpc"] = means["loss"] / math.log(2)
        datamodule = self._trainer.datamodule if self._trainer is not None else None
        optimal = getattr(datamodule, "optimal_nll", {}).get(split)
        if optimal is not None:
            extra["optimal_ppl"] = math.exp(optimal)  # the generator's own perplexity on this split
        oov_rate = getattr(datamodule, "oov_rate", {}).get(split)
        if oov_rate is not None and split != "train":
            extra["oov_rate"] = oov_rate  # share of this split's tokens that the training vocabulary lacks
        return extra

    # --- gradients through time -------------------------------------------------------------------
    def probe_gradients(self, steps: int = 60) -> list[float]:
        """gradient_through_time on a probe window of validation tokens (dropout off)."""
        x, y = self.trainer.datamodule.probe_window(steps)
        was_training = self.training
        self.eval()
        norms = gradient_through_time(self.net, x.to(self.device), y.to(self.device))
        self.train(was_training)
        return norms

    # --- sampling --------------------------------------------------------------------------------
    def generate(
        self,
        out_dir: Path,
        datamodule,
        evaluation: Evaluation,
        *,
        prompt: str | int | float = "",
        length: Annotated[int, Range(1, 10**5)] = 200,
        temperature: Positive = 1.0,
    ) -> str:
        """Continue `prompt` by `length` sampled tokens; printed and saved as generated.txt."""
        vocab = Vocab(self.data.vocab)
        prompt_ids = vocab.encode(prompt_tokens(str(prompt), self.level)).tolist()
        ids = self.sample_tokens(prompt_ids, int(length), float(temperature), evaluation.seed)
        text = detokenize([vocab.itos[i] for i in prompt_ids + ids], self.level)
        write_whole(out_dir / "generated.txt", text + "\n")
        print(text)
        return text

    @torch.no_grad()
    def sample_tokens(self, prompt_ids: list[int], length: int, temperature: float = 1.0, seed: int = 0) -> list[int]:
        """Sample `length` tokens after the prompt from softmax(logits / temperature); seeded."""
        if temperature <= 0:
            raise UserError(f"temperature must be positive, got {temperature}")
        if not prompt_ids:
            raise UserError("the prompt is empty after tokenisation; give at least one known token")
        generator = torch.Generator(device=self.device).manual_seed(seed)
        self.eval()
        logits, hidden = self.net(torch.tensor([prompt_ids], device=self.device))
        out = []
        for _ in range(length):
            last = logits[0, -1]
            probs = torch.softmax((last - last.max()) / temperature, -1)  # max at 0: finite for any temperature > 0
            token = torch.multinomial(probs, 1, generator=generator)
            out.append(int(token))
            logits, hidden = self.net(token.view(1, 1), hidden)
        return out

    @torch.no_grad()
    def predict_inputs(self, x: list[torch.Tensor], top_k: int = 5) -> list[dict]:
        """Per prompt: the most likely next token, the top k with their probabilities, and the prompt's own
        perplexity under the model (from its second token on)."""
        self.eval()
        rows = []
        for ids in x:
            logits, _ = self.net(ids[None].to(self.device))
            probabilities = torch.softmax(logits[0, -1].float(), -1).cpu()
            row = class_rows(probabilities[None], self.data.vocab, top_k)[0]
            row["perplexity"] = (
                math.exp(F.cross_entropy(logits[0, :-1], ids[1:].to(self.device)).item()) if len(ids) > 1 else None
            )
            rows.append(row)
        return rows

    def exportable(self) -> tuple[torch.nn.Module, torch.Tensor]:
        return Logits(self.net), torch.zeros(1, 8, dtype=torch.long)

    def save_figures(self, out_dir: Path, datamodule) -> list[Path]:
        from zoo import plots

        if self.trainer is None or not hasattr(datamodule, "probe_window"):
            return []
        self.gradient_probe["trained"] = self.probe_gradients()
        return [plots.gradient_through_time(self.gradient_probe, out_dir / "gradient_through_time.png")]
