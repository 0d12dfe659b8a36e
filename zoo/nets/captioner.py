"""Image captioning after "Show and Tell" (Vinyals et al. 2015; slide "Beyond Classification").

A CNN reads the image I into a vector v = CNN(I) that the LSTM of the RNN slides reads with the
words: x_t = [W_e S_t, v], p_{t+1} = LSTM(x_t) for t = 0 .. N-1, with S_0 = <bos>. Vinyals et al.
give v once, before the first word; here it comes with every word ("par-inject", Tanti et al. 2018),
which learns in far fewer steps (`make section-beyond`). Training feeds the true words (teacher forcing)
and maximises sum_t log p_t(S_t); generation feeds back its own words, greedily or keeping the
`beam_size` most probable sentences so far.
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import nn

from zoo.nets import parts
from zoo.ranges import Channels, Count, Range

BLOCK = 2  # pixels per side of the blocks the encoder folds into channels first


class ShowAndTell(nn.Module):
    def __init__(
        self,
        input_shape,
        vocab_size: int,
        bos: int,
        eos: int,
        channels: Channels = (32, 64, 64),
        grid: Annotated[int, Range(1, 64)] = 2,
        embedding_dim: Count = 64,
        hidden_size: Count = 256,
    ):
        super().__init__()
        parts.require_image("captioner", input_shape)
        parts.check_divisible(
            "captioner", input_shape, BLOCK * 2 ** (len(channels) - 1), "halves the image between blocks"
        )
        layers, c_in = [nn.PixelUnshuffle(BLOCK)], input_shape[0] * BLOCK**2  # 2x2 pixels -> channels
        for i, c in enumerate(channels):
            layers += [nn.MaxPool2d(2)] * (i > 0) + [parts.double_conv(c_in, c)]
            c_in = c
        # v: the max of each feature over each of grid x grid regions, side by side; where a digit sits
        # decides "left of" and "above". The LSTM's input weights are the first layer that mixes them.
        layers += [nn.AdaptiveMaxPool2d(grid), nn.Flatten()]
        self.encoder = nn.Sequential(*layers)
        self.embed = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim + c_in * grid * grid, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)
        self.bos, self.eos = bos, eos

    def step(self, words: torch.Tensor, image: torch.Tensor, state=None):
        """Scores of the word after each of words (N, T), given the image vectors v (N, features x grid^2)."""
        x = torch.cat([self.embed(words), image[:, None].expand(-1, words.shape[1], -1)], -1)
        h, state = self.lstm(x, state)
        return self.out(h), state

    def forward(self, images: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: scores (N, T, vocab) of the word after each of words (N, T) = S_0 .. S_{T-1}."""
        return self.step(words, self.encoder(images))[0]

    @torch.no_grad()
    def generate(self, images: torch.Tensor, max_length: int, beam_size: int = 1) -> torch.Tensor:
        """Word ids (N, <= max_length) after <bos>: the most probable sentence among `beam_size` kept at
        each step (1: greedy). A finished sentence keeps its score and repeats <eos>.
        """
        n, k = len(images), beam_size
        image = self.encoder(images).repeat_interleave(k, 0)
        words = torch.full((n * k, 1), self.bos, device=images.device)
        scores = torch.full((n, k), -math.inf, device=images.device)
        scores[:, 0] = 0  # the k copies of a beam start as one sentence
        done = torch.zeros(n * k, dtype=torch.bool, device=images.device)
        state = None
        for _ in range(max_length):
            logits, state = self.step(words[:, -1:], image, state)
            logp = F.log_softmax(logits[:, 0], -1)
            logp[done] = -math.inf
            logp[done, self.eos] = 0
            vocab = logp.shape[1]
            scores, best = (scores.view(-1, 1) + logp).view(n, k * vocab).topk(k)
            rows = (torch.arange(n, device=images.device)[:, None] * k + best // vocab).view(-1)
            words = torch.cat([words[rows], (best % vocab).view(-1, 1)], 1)
            state = tuple(s[:, rows] for s in state)
            done = done[rows] | (words[:, -1] == self.eos)
            if done.all():
                break
        return words.view(n, k, -1)[torch.arange(n), scores.argmax(1), 1:]
