"""RNN / LSTM / GRU language models: the slide's equations, truncated BPTT, perplexity, corpora, sampling."""

import json
import math
import re
import tracemalloc

import pytest
import torch

from datamodules.corpora import PTBDataModule, TinyShakespeareDataModule, WikiText2DataModule
from datamodules.description import DataDescription
from datamodules.longrange import LongRangeDataModule
from datamodules.text import EOS, UNK
from datamodules.text_files import TextFileDataModule
from tests.conftest import FAST, run_cli
from tests.test_train import epoch_losses
from zoo.build import check_model
from zoo.errors import UserError
from zoo.learners.language_model import LanguageModel
from zoo.nets.rnn import ElmanRNN, RNNLanguageModel
from zoo.run import evaluate, train
from zoo.starting import compose_run


def test_lecture_rnn_equals_torch_rnn_with_the_same_weights():
    torch.manual_seed(0)
    lecture = ElmanRNN(5, 7)
    reference = torch.nn.RNN(5, 7, batch_first=True)
    with torch.no_grad():
        reference.weight_ih_l0.copy_(lecture.W_xh.weight)
        reference.bias_ih_l0.copy_(lecture.W_xh.bias)
        reference.weight_hh_l0.copy_(lecture.W_hh.weight)
        reference.bias_hh_l0.copy_(lecture.W_hh.bias)
    x, h0 = torch.randn(3, 11, 5), torch.randn(1, 3, 7)
    out, h = lecture(x, h0)
    expected_out, expected_h = reference(x, h0)
    torch.testing.assert_close(out, expected_out)
    torch.testing.assert_close(h, expected_h)


def test_irnn_starts_from_the_identity():
    net = RNNLanguageModel(20, cell="irnn", hidden_size=6, embedding_dim=4)
    assert torch.equal(net.core.weight_hh_l0, torch.eye(6))
    assert torch.all(net.core.bias_hh_l0 == 0) and torch.all(net.core.bias_ih_l0 == 0)
    lecture = RNNLanguageModel(20, cell="irnn", hidden_size=6, embedding_dim=4, backend="lecture")
    assert torch.equal(lecture.core.W_hh.weight, torch.eye(6))


def test_chrono_init_spreads_lstm_and_gru_memories_between_2_and_T_steps():
    torch.manual_seed(0)
    net = RNNLanguageModel(20, cell="lstm", embedding_dim=4, hidden_size=64, num_layers=2, chrono_init=100)
    core, h = net.core, 64
    for layer in (0, 1):
        b_ih, b_hh = getattr(core, f"bias_ih_l{layer}"), getattr(core, f"bias_hh_l{layer}")
        forget = b_ih[h : 2 * h] + b_hh[h : 2 * h]
        torch.testing.assert_close(b_ih[:h] + b_hh[:h], -forget)  # input gate = -forget gate
        time_scales = 1 + forget.exp()
        assert time_scales.min() >= 2 - 1e-4 and time_scales.max() <= 100 + 1e-3
    # The bias sits on the forget gate of torch's (input, forget, cell, output) layout: with every
    # weight and the cell-candidate bias at zero and no input, c_t = sigmoid(b_f)^t c_0.
    with torch.no_grad():
        for name, p in core.named_parameters():
            if name.startswith("weight"):
                p.zero_()
            elif name.endswith("l0"):
                p[2 * h : 3 * h] = 0.0
    c0 = torch.ones(2, 1, h)
    _, (_, c) = core(torch.zeros(1, 30, 4), (torch.zeros(2, 1, h), c0))
    forget0 = core.bias_ih_l0[h : 2 * h] + core.bias_hh_l0[h : 2 * h]
    torch.testing.assert_close(c[0, 0], torch.sigmoid(forget0) ** 30)
    # GRU: the update gate z keeps the state; with no input and the new-state biases at zero, n_t = 0
    # and h_t = sigmoid(b_z)^t h_0.
    gru = RNNLanguageModel(20, cell="gru", embedding_dim=4, hidden_size=h, chrono_init=100).core
    update = gru.bias_ih_l0[h : 2 * h] + gru.bias_hh_l0[h : 2 * h]
    assert (1 + update.exp()).min() >= 2 - 1e-4 and (1 + update.exp()).max() <= 100 + 1e-3
    with torch.no_grad():
        for name, p in gru.named_parameters():
            if name.startswith("weight"):
                p.zero_()
            else:
                p[2 * h :] = 0.0
    _, h_last = gru(torch.zeros(1, 30, 4), torch.ones(1, 1, h))
    torch.testing.assert_close(h_last[0, 0], torch.sigmoid(update) ** 30)
    with pytest.raises(UserError, match="has no gates"):
        RNNLanguageModel(20, cell="rnn_tanh", chrono_init=100)
    with pytest.raises(UserError, match=re.escape("model.chrono_init must be an integer from 3 to 10^7")):
        lm = {"learner": "zoo.learners.language_model.LanguageModel", "_target_": "zoo.nets.rnn.RNNLanguageModel"}
        check_model(lm | {"cell": "lstm", "chrono_init": 2})


def test_tied_weights_share_storage_and_need_equal_sizes():
    net = RNNLanguageModel(30, cell="lstm", embedding_dim=16, hidden_size=16, tie_weights=True)
    assert net.decoder.weight.data_ptr() == net.embedding.weight.data_ptr()
    with pytest.raises(UserError, match="tie_weights needs embedding_dim == hidden_size"):
        RNNLanguageModel(30, embedding_dim=8, hidden_size=16, tie_weights=True)


def make_learner(vocab=12, cell="lstm"):
    net = RNNLanguageModel(vocab, cell=cell, embedding_dim=8, hidden_size=8)
    data = DataDescription("tokens", vocab=[f"w{i}" for i in range(vocab)], level="word")
    return LanguageModel(net, data, optimizer=lambda p: torch.optim.SGD(p, 0.1))


def test_hidden_state_is_carried_and_detached_across_windows():
    torch.manual_seed(0)
    model = make_learner()
    first = torch.randint(12, (2, 5))
    second = torch.randint(12, (2, 5))
    model._step((first, first), "train")
    carried = model.hidden["train"]
    assert all(not h.requires_grad for h in carried)  # gradient stops at the window edge
    with_state = model.net(second, carried)[0]
    fresh = model.net(second)[0]
    loss = model._step((second, second), "train")
    assert not torch.allclose(with_state, fresh)  # the state does carry information
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(with_state.flatten(0, 1), second.flatten()))


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    model = make_learner(vocab=12)
    with torch.no_grad():
        model.net.decoder.weight.zero_()
        model.net.decoder.bias.zero_()  # every next token gets probability 1/12
    tokens = torch.randint(12, (4, 9))
    loss = model._step((tokens, tokens), "test")
    assert math.exp(loss.item()) == pytest.approx(12.0)
    assert model.derived_metrics("test", {"loss": loss.item()})["ppl"] == pytest.approx(12.0)


def test_longrange_corpus_places_the_target_and_knows_its_optimum():
    dm = LongRangeDataModule(
        distance=2, n_cues=4, train_sentences=400, val_sentences=40, test_sentences=40, batch_size=4, bptt=8
    )
    dm.setup()
    words = dm.decode(dm.streams["train"][:8].tolist()).split()
    cue, marker, language, eos = words[:4]
    assert (
        marker == "fluent"
        and eos == EOS
        and language == {"france": "french", "germany": "german", "spain": "spanish", "italy": "italian"}[cue]
    )
    # with no fillers only the cue is uncertain: log(4) nats in every 4 tokens
    assert dm.optimal_nll["train"] == pytest.approx(math.log(4) / 4, rel=0.02)
    x, y, cue_dependent = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 8) and torch.equal(x[:, 1:], y[:, :-1])
    assert all(dm.vocab.itos[t].endswith(("ish", "ch", "an")) for t in y[cue_dependent].tolist())


def test_longrange_windows_hold_whole_sentences_in_a_new_order_each_epoch():
    dm = LongRangeDataModule(distance=5, train_sentences=70, batch_size=4)  # 70 -> 68: whole sentences per row
    dm.setup()
    assert dm.bptt == 14 and len(dm.streams["train"]) == 68 * 7
    loader = dm.train_dataloader()
    epochs = []
    for epoch in range(2):
        loader.epoch = lambda epoch=epoch: epoch  # in a fit, the trainer's epoch
        epochs.append(list(loader))
    for x, _, cue_dependent in epochs[0]:
        assert (x[:, ::7] >= 2).all() and (x[:, ::7] < 2 + 8).all()  # every sentence starts at a window edge
        assert (cue_dependent.nonzero()[:, 1] % 7 == 4).all()  # the target's cue is in the same window
    first, second = (torch.cat([w[0] for w in e], 1) for e in epochs)
    assert not torch.equal(first, second)  # reshuffled sentences ...
    assert torch.equal(first.flatten().sort().values, second.flatten().sort().values)  # ... the same ones
    again = LongRangeDataModule(distance=5, train_sentences=70, batch_size=4)
    assert torch.equal(torch.cat([w[0] for w in again.train_dataloader()], 1), first)  # seeded


def test_lstm_loss_falls_on_the_longrange_corpus(compose_train, tmp_path):
    metrics = train(
        compose_train(
            "model=lstm_lm",
            "data=longrange",
            "data.distance=5",
            "data.train_sentences=600",
            "data.val_sentences=100",
            "data.test_sentences=100",
            "trainer.max_epochs=3",
        )
    )
    losses = epoch_losses(tmp_path)
    assert losses[-1] < losses[0]
    assert metrics["test/ppl"] >= metrics["test/optimal_ppl"] * 0.99  # nobody beats the generator
    assert (tmp_path / "gradient_through_time.png").is_file()


def test_char_model_on_a_local_file_trains_and_generates(compose_train, tmp_path):
    corpus = tmp_path / "poem.txt"
    corpus.write_text("the cat sat on the mat. " * 200)
    train(
        compose_train(
            "model=gru_lm",
            "data=text",
            f"data.path={corpus}",
            "data.batch_size=8",
            "data.bptt=20",
            "trainer.max_epochs=2",
        )
    )
    ckpt = tmp_path / "checkpoints" / "best.ckpt"
    outputs = []
    for i in range(2):  # each evaluation into its own folder: a finished one is never written into again
        cfg = compose_run(
            "evaluate",
            [f"ckpt_path={ckpt}", "mode=generate", "prompt=the c", "length=40", "temperature=0.8", "seed=3"],
            tmp_path / f"gen{i}",
        )
        outputs.append(evaluate(cfg)["generated"])
    assert outputs[0] == outputs[1] and outputs[0].startswith("the c") and len(outputs[0]) == 45
    assert (tmp_path / "gen0" / "generated.txt").read_text().strip() == outputs[0].strip()
    record = json.loads((tmp_path / "gen0" / "metrics.json").read_text())  # generation leaves a record too
    assert record["mode"] == "generate" and record["generated"] == outputs[0] and record["git_commit"]
    cfg = compose_run("evaluate", [f"ckpt_path={ckpt}", "mode=generate", "seed=4", "length=40"], tmp_path / "gen2")
    with pytest.raises(UserError, match="prompt is empty"):
        evaluate(cfg)


def test_corpora_read_their_original_layouts(tmp_path):
    ptb = tmp_path / "ptb"
    ptb.mkdir()
    for split, text in (
        ("train", " the cat <unk> sat \n the dog sat \n"),
        ("valid", " the cat ran \n"),
        ("test", " a dog sat \n"),
    ):
        (ptb / f"ptb.{split}.txt").write_text(text * 30)
    dm = PTBDataModule(root=tmp_path, download=False, batch_size=2, bptt=4)
    dm.setup()
    assert dm.vocab.itos[:3] == [EOS, "sat", "the"] and UNK in dm.vocab.stoi  # by frequency, ties by spelling
    assert dm.decode(dm.streams["val"][:4].tolist()) == f"the cat {UNK} {EOS}"  # "ran" is not in train

    wiki = tmp_path / "wikitext-2"
    wiki.mkdir()
    for split in ("train", "valid", "test"):
        (wiki / f"wiki.{split}.tokens").write_text(" = Valkyria = \n\n Senjō no Valkyria 3 @-@ game \n" * 20)
    dm = WikiText2DataModule(root=tmp_path, download=False, batch_size=2, bptt=4)
    dm.setup()
    assert "@-@" in dm.vocab.stoi and dm.description.as_dict()["level"] == "word"

    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare" / "input.txt").write_text("First Citizen:\nBefore we proceed any further.\n" * 50)
    dm = TinyShakespeareDataModule(root=tmp_path, download=False, batch_size=2, bptt=8)
    dm.setup()
    assert dm.description.as_dict()["level"] == "char" and "F" in dm.vocab.stoi


def test_missing_corpus_offline_and_bad_text_files_are_sentences(tmp_path):
    with pytest.raises(UserError, match=f"Penn Treebank is not in {tmp_path}/ptb \\(expected ptb.train.txt"):
        PTBDataModule(root=tmp_path, download=False).setup()
    empty, binary = tmp_path / "empty.txt", tmp_path / "blob.bin"
    empty.write_text("  \n")
    binary.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(UserError, match="is empty"):
        TextFileDataModule(path=str(empty)).setup()
    with pytest.raises(UserError, match="looks binary"):
        TextFileDataModule(path=str(binary)).setup()


def test_evaluation_reads_any_text_with_the_checkpoints_vocabulary(compose_train, tmp_path):
    """Another text is scored in the model's own ids; what the model never saw counts as unknown."""
    seen = tmp_path / "lower.txt"
    seen.write_text("the cat sat on the mat. " * 300)
    train(compose_train("model=gru_lm", "data=text", f"data.path={seen}", "data.batch_size=8", "trainer.max_epochs=1"))
    ckpt = tmp_path / "checkpoints" / "best.ckpt"
    shouted = tmp_path / "upper.txt"
    shouted.write_text("THE CAT SAT ON THE MAT. " * 300)

    folders = iter(range(100))

    def scored(*overrides):
        out = tmp_path / f"eval{next(folders)}"
        return evaluate(compose_run("evaluate", [f"ckpt_path={ckpt}", *overrides], out))

    same = scored(f"++data.path={seen}")
    other = scored(f"++data.path={shouted}")
    assert same["test/oov_rate"] == 0.0
    assert other["test/oov_rate"] == pytest.approx(17 / 24, abs=0.01)  # every letter is new; spaces and the dot are not
    assert other["test/loss"] > same["test/loss"]
    with pytest.raises(UserError, match="reads chars but this data is cut into words; pass data.level=char"):
        scored(f"++data.path={seen}", "++data.level=word")
    # a checkpoint written before the text datamodules moved to their own files names the old class: still read
    old = torch.load(ckpt, weights_only=True)
    assert old["zoo"]["data"]["_target_"] == "datamodules.text_files.TextFileDataModule"
    old["zoo"]["data"]["_target_"] = "datamodules.text.TextFileDataModule"
    torch.save(old, ckpt)
    assert scored(f"++data.path={seen}")["test/loss"] == same["test/loss"]

    cli = run_cli("evaluate.py", f"ckpt_path={ckpt}", f"data.path={shouted}", f"hydra.run.dir={tmp_path}/cli")
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert json.loads((tmp_path / "cli" / "metrics.json").read_text())["test/oov_rate"] == other["test/oov_rate"]


def test_a_character_corpus_costs_under_10_bytes_per_character(tmp_path):
    """No Python object per character: the peak of Python and numpy allocations while loading, per character."""
    corpus = tmp_path / "big.txt"
    line = "It was the best of times, it was the worst of times; 1859.\n"
    corpus.write_text(line * (8_000_000 // len(line)))
    data = TextFileDataModule(path=str(corpus), level="char", batch_size=32, bptt=100)
    tracemalloc.start()
    data.setup()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak / corpus.stat().st_size <= 10, peak / corpus.stat().st_size
    assert data.streams["train"].dtype == torch.int16


def test_an_evaluation_knows_the_data_its_checkpoint_was_measured_on(tmp_path, monkeypatch):
    """A relative data.path is stored absolute; data that changed since is refused unless asked for."""
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, text in ((first, "the cat sat on the mat. " * 300), (second, "a dog ran in the fog. " * 300)):
        folder.mkdir()
        (folder / "words.txt").write_text(text)
    monkeypatch.chdir(first)
    trained = train(compose_run("train", [*FAST, "model=gru_lm", "data=text", "data.path=words.txt",
                                          "data.batch_size=8", "trainer.max_epochs=1"], tmp_path / "run"))  # fmt: skip
    ckpt = f"ckpt_path={tmp_path}/run/checkpoints/best.ckpt"
    assert trained["data"]["test"]["examples"] > 0 and len(trained["data"]["test"]["fingerprint"]) == 16
    monkeypatch.chdir(second)  # another words.txt here: the checkpoint still names the first
    again = evaluate(compose_run("evaluate", [ckpt], tmp_path / "e1"))
    assert again["same_data_as_training"] and again["test/loss"] == pytest.approx(trained["test/loss"], rel=1e-6)
    (first / "words.txt").write_text("the mat sat on the cat. " * 300)  # the data changed since
    with pytest.raises(UserError, match="was measured on another test split than its data config reads now"):
        evaluate(compose_run("evaluate", [ckpt], tmp_path / "e2"))
    other = evaluate(compose_run("evaluate", [ckpt, "++data.path=words.txt"], tmp_path / "e3"))  # asked for
    assert other["same_data_as_training"] is False
