"""Recurrent language-model networks (slides "RNN state update and output" to "LSTMs").

    h_t = tanh(W_hh h_{t-1} + W_xh x_t)        update the hidden state
    y_hat_t = W_hy h_t                          output (here: scores over the vocabulary)

`ElmanRNN` is that recurrence written as the slide's loop, for reading; `backend="torch"` uses
torch.nn.RNN / LSTM / GRU (the same maths, fused kernels). Cells: rnn_tanh, rnn_relu (slide
"Trick 1: activation functions"), irnn (ReLU with W_hh = I and zero biases: "Trick 2: parameter
initialization", Le et al. 2015), lstm and gru ("Trick 3: gated cells").
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from torch import nn

from zoo.errors import UserError
from zoo.ranges import Count, Fraction, Positive, Range

Cell = Literal["rnn_tanh", "rnn_relu", "irnn", "lstm", "gru"]


class ElmanRNN(nn.Module):
    """One layer of h_t = g(W_hh h_{t-1} + W_xh x_t), looped over time exactly as on the slide.

    Same parameters and results as torch.nn.RNN(batch_first=True) with one layer.
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh"):
        super().__init__()
        self.W_xh = nn.Linear(input_size, hidden_size)
        self.W_hh = nn.Linear(hidden_size, hidden_size)
        self.g = torch.tanh if nonlinearity == "tanh" else torch.relu
        self.hidden_size = hidden_size

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None):
        """x: (batch, time, input_size); h: (1, batch, hidden) or None -> outputs (batch, time, hidden), h_T."""
        h_t = x.new_zeros(x.shape[0], self.hidden_size) if h is None else h[0]
        outputs = []
        for x_t in x.unbind(1):
            h_t = self.g(self.W_hh(h_t) + self.W_xh(x_t))  # the same weights at every time step
            outputs.append(h_t)
        return torch.stack(outputs, 1), h_t.unsqueeze(0)


class RNNLanguageModel(nn.Module):
    """Embedding -> recurrent core -> dropout -> linear decoder (W_hy) over the vocabulary."""

    def __init__(
        self,
        vocab_size: int,
        cell: Cell = "lstm",
        embedding_dim: Count = 64,
        hidden_size: Count = 128,
        num_layers: Count = 1,
        dropout: Fraction = 0.0,
        tie_weights: bool = False,
        backend: Literal["torch", "lecture"] = "torch",
        init_range: Positive | None = None,
        forget_bias: float = 1.0,
        recurrent_gain: Positive | None = None,
        chrono_init: Annotated[int, Range(3, 10**7, note="the longest memory at start, in time steps")] | None = None,
    ):
        super().__init__()
        if backend == "lecture" and (cell in ("lstm", "gru") or num_layers != 1):
            raise UserError(
                "backend=lecture is the slide's one-layer Elman RNN: use it with cell=rnn_tanh, rnn_relu "
                "or irnn and num_layers=1"
            )
        if tie_weights and embedding_dim != hidden_size:
            raise UserError(
                f"tie_weights needs embedding_dim == hidden_size (the decoder reuses the embedding "
                f"matrix), got {embedding_dim} and {hidden_size}"
            )
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.drop = nn.Dropout(dropout)
        nonlinearity = "tanh" if cell == "rnn_tanh" else "relu"
        if backend == "lecture":
            self.core = ElmanRNN(embedding_dim, hidden_size, nonlinearity)
        elif cell == "lstm":
            self.core = nn.LSTM(
                embedding_dim, hidden_size, num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0
            )
        elif cell == "gru":
            self.core = nn.GRU(
                embedding_dim, hidden_size, num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0
            )
        else:
            self.core = nn.RNN(
                embedding_dim,
                hidden_size,
                num_layers,
                nonlinearity=nonlinearity,
                batch_first=True,
                dropout=dropout if num_layers > 1 else 0,
            )
        self.decoder = nn.Linear(hidden_size, vocab_size)  # y_hat_t = W_hy h_t
        if init_range is not None:  # Zaremba et al.: every weight ~ U(-r, r)
            for p in self.parameters():
                nn.init.uniform_(p, -init_range, init_range)
        if recurrent_gain is not None:
            self._orthogonal_init(recurrent_gain)
        if cell == "irnn":
            self._identity_init()
        if chrono_init is not None and cell not in ("lstm", "gru"):
            raise UserError(
                f"model.chrono_init sets the gate biases of an LSTM or a GRU; cell={cell} has no gates "
                f"(use chrono_init=null)"
            )
        if cell in ("lstm", "gru"):
            self._gate_biases(forget_bias, chrono_init)
        if tie_weights:
            self.decoder.weight = self.embedding.weight  # one matrix for input and output (Press & Wolf 2017)

    def _gate_biases(self, forget_bias: float, chrono_init: int | None) -> None:
        """Start the gated cells with memories that last (slides "Long Short Term Memory" and "GRU").

        LSTM: c_t = f_t c_{t-1} + i_t g_t. With no input, a unit with forget bias b keeps sigmoid(b)
        of its cell per step, so it forgets over about 1 + e^b steps. `forget_bias` gives every unit
        the same b (Jozefowicz et al. 2015 use 1). `chrono_init=T` (Tallec & Ollivier 2018, "Can
        recurrent neural networks warp time?") spreads the time scales instead: b_f = log u with
        u ~ U(1, T - 1), so memories last 2 to T steps, and the input gate starts at -b_f, so
        long-memory units write rarely and keep what they hold.
        GRU: h_t = (1 - z_t) n_t + z_t h_{t-1}; the update gate z plays the forget gate and 1 - z the
        input gate, so `chrono_init` sets b_z = log u the same way (`forget_bias` is LSTM-only).
        torch keeps the gates as (input, forget, cell, output) for the LSTM and (reset, update, new)
        for the GRU: the forget and update gates are both the second block of each bias.
        """
        h, lstm = self.core.hidden_size, self.cell == "lstm"
        if chrono_init is None and not lstm:
            return  # torch's own initialisation
        with torch.no_grad():
            for name, bias_ih in self.core.named_parameters():  # one bias_ih (and bias_hh) per layer
                if not name.startswith("bias_ih"):
                    continue
                if chrono_init is None:
                    blocks = {h: torch.full((h,), forget_bias)}
                else:
                    keep = torch.empty(h).uniform_(1, chrono_init - 1).log()
                    blocks = {h: keep, 0: -keep} if lstm else {h: keep}  # second block: forget / update gate
                bias_hh = getattr(self.core, name.replace("bias_ih", "bias_hh"))
                for start, value in blocks.items():
                    bias_ih[start : start + h] = value
                    bias_hh[start : start + h] = 0.0  # bias_ih alone carries the value

    def _orthogonal_init(self, gain: float) -> None:
        """W_hh = gain x a random orthogonal matrix: every singular value is `gain`, so without the
        nonlinearity a gradient sent back k steps is scaled by gain^k (vanishing below 1, exploding above)."""
        for name, p in self.core.named_parameters():
            if "W_hh.weight" in name or name.startswith("weight_hh"):
                nn.init.orthogonal_(p, gain)

    def _identity_init(self) -> None:
        """W_hh = I and zero biases, so at the start h_t carries h_{t-1} forward unchanged."""
        with torch.no_grad():
            for name, p in self.core.named_parameters():
                if "W_hh.weight" in name or name.startswith("weight_hh"):
                    p.copy_(torch.eye(p.shape[0]))
                elif "bias" in name:
                    p.zero_()

    def forward(self, tokens: torch.Tensor, hidden=None):
        """tokens: (batch, time) -> logits (batch, time, vocab), the last hidden state (to carry on)."""
        outputs, hidden = self.core(self.drop(self.embedding(tokens)), hidden)
        return self.decoder(self.drop(outputs)), hidden

    def hidden_per_step(self, tokens: torch.Tensor, hidden=None):
        """Run one step at a time; return the last step's logits and every top-layer h_t as a graph node.

        The core returns h_t twice (as its output and in its state); the next step is made to read the
        same node the decoder reads, so d loss / d h_t collects both paths back in time.
        """
        states = []
        for t in range(tokens.shape[1]):
            outputs, hidden = self.core(self.drop(self.embedding(tokens[:, t : t + 1])), hidden)
            h_t = outputs[:, 0]
            h, c = hidden if isinstance(hidden, tuple) else (hidden, None)
            h = torch.cat([h[:-1], h_t.unsqueeze(0)])
            hidden = h if c is None else (h, c)
            states.append(h_t)
        return self.decoder(self.drop(states[-1])), states
