#!/usr/bin/python3
"""Reference fixtures for the BERT encoder, safetensors reader and pooling (test/fixtures/bert/).

Run by hand from the repository root with Debian's python3 (torch + numpy; no transformers, no tokenizers):

    /usr/bin/python3 scripts/make_bert_fixtures.py

Everything here is written independently of the TypeScript code: the BERT forward pass follows the paper /
Hugging Face `BertModel` semantics directly in torch (float64), safetensors files are written byte by byte,
and the end-to-end texts are tokenized by the pure-Python WordPiece of make_tokenizer_fixtures.py over
bert-base-uncased's vocab.txt.

`--check DIR` instead reads a directory saved by `SentenceEncoder.save()` (e.g. the e2e model loaded and
saved again) through its sentence-transformers files and compares its embeddings with e2e/reference.json.

Outputs:
  tiny/  2 layers, hidden 32, 4 heads, intermediate 64, truncated vocab (1000): model parity from input ids.
         model.safetensors (F32, HF BertModel names + pooler), model.f16.safetensors (F16, `bert.` prefix),
         model.bf16.safetensors (BF16), config.json, sentence-transformers files, reference.json.
  e2e/   1 layer, hidden 8, 2 heads, full 30522 vocab: text -> embedding parity with the bert-base-uncased
         tokenizer (tokenizer files are not copied here to keep the fixture small; tests add them).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

# The WordPiece reference lives beside this script (shared with the tokenizer parity fixtures).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_fixtures import basic_tokenize, wordpiece  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "bert")
VOCAB = os.environ.get("BERT_VOCAB", os.path.join(ROOT, "assets", "tokenizers", "bert-base-uncased", "vocab.txt"))

torch.set_default_dtype(torch.float64)


# ---------------------------------------------------------------- model


def make_config(vocab, hidden, layers, heads, inter, max_pos):
    return {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": inter,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": max_pos,
        "model_type": "bert",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "type_vocab_size": 2,
        "vocab_size": vocab,
    }


def random_weights(cfg, gen):
    """Weights with deliberately large spread so every path (attention, GELU tails, LayerNorm) matters."""
    h, i, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]

    def rnd(*shape, std=0.3):
        return torch.randn(*shape, generator=gen) * std

    w = {
        "embeddings.word_embeddings.weight": rnd(v, h, std=1.0),
        "embeddings.position_embeddings.weight": rnd(cfg["max_position_embeddings"], h, std=0.5),
        "embeddings.token_type_embeddings.weight": rnd(cfg["type_vocab_size"], h, std=0.5),
        "embeddings.LayerNorm.weight": 1 + rnd(h, std=0.2),
        "embeddings.LayerNorm.bias": rnd(h, std=0.1),
    }
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        for name in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
            w[p + name + ".weight"] = rnd(h, h, std=1.0 / math.sqrt(h) * 1.5)
            w[p + name + ".bias"] = rnd(h, std=0.1)
        w[p + "attention.output.LayerNorm.weight"] = 1 + rnd(h, std=0.2)
        w[p + "attention.output.LayerNorm.bias"] = rnd(h, std=0.1)
        w[p + "intermediate.dense.weight"] = rnd(i, h, std=1.0 / math.sqrt(h) * 1.5)
        w[p + "intermediate.dense.bias"] = rnd(i, std=0.1)
        w[p + "output.dense.weight"] = rnd(h, i, std=1.0 / math.sqrt(i) * 1.5)
        w[p + "output.dense.bias"] = rnd(h, std=0.1)
        w[p + "output.LayerNorm.weight"] = 1 + rnd(h, std=0.2)
        w[p + "output.LayerNorm.bias"] = rnd(h, std=0.1)
    # Cast to float32 values: the checkpoint stores float32, the forward pass runs in float64 on exactly them.
    return {k: t.float().double() for k, t in w.items()}


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * g + b


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def bert_forward(w, cfg, ids, mask, types):
    """Last hidden state [B, S, H] of HF BertModel in eval mode (no dropout)."""
    b, s = ids.shape
    h, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    dh = h // nh
    eps = cfg["layer_norm_eps"]
    pos = torch.arange(s)
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][pos][None, :, :]
        + w["embeddings.token_type_embeddings.weight"][types]
    )
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    ext = (1.0 - mask[:, None, None, :].double()) * torch.finfo(torch.float32).min
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."

        def lin(t, name):
            return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        def heads(t):
            return t.reshape(b, s, nh, dh).permute(0, 2, 1, 3)

        q = heads(lin(x, "attention.self.query"))
        k = heads(lin(x, "attention.self.key"))
        v = heads(lin(x, "attention.self.value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh) + ext
        probs = torch.softmax(scores, dim=-1)
        ctx = (probs @ v).permute(0, 2, 1, 3).reshape(b, s, h)
        x1 = layer_norm(
            lin(ctx, "attention.output.dense") + x,
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
            eps,
        )
        inter = gelu(lin(x1, "intermediate.dense"))
        x = layer_norm(
            lin(inter, "output.dense") + x1, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps
        )
    return x


def pool(hidden, mask, mode):
    m = mask[:, :, None].double()
    if mode == "cls":
        return hidden[:, 0]
    if mode == "mean":
        return (hidden * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
    masked = hidden.clone()
    masked[m.expand_as(hidden) == 0] = -1e9
    return masked.max(1).values


def normalize(x):
    return x / torch.clamp(x.norm(dim=1, keepdim=True), min=1e-12)


def pooled_all(hidden, mask):
    out = {}
    for mode in ["cls", "mean", "max"]:
        p = pool(hidden, mask, mode)
        out[mode] = rows(p)
        out[mode + "_normalized"] = rows(normalize(p))
    return out


def rows(t):
    return [[float("%.9g" % v) for v in r] for r in t.float().double().tolist()]


# ---------------------------------------------------------------- safetensors (by hand)


def to_bytes(t, dtype):
    a = t.float().contiguous()
    if dtype == "F32":
        return a.numpy().astype("<f4").tobytes()
    if dtype == "F16":
        return a.numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        # bfloat16 = top 16 bits of float32, round-to-nearest-even as torch does.
        return a.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(dtype)


def from_dtype(t, dtype):
    """The float64 value a reader gets back after storing `t` as `dtype`."""
    a = t.float()
    if dtype == "F16":
        return torch.from_numpy(a.numpy().astype(np.float16).astype(np.float64))
    if dtype == "BF16":
        return a.to(torch.bfloat16).double()
    return a.double()


def write_safetensors(path, tensors, dtype, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    off = 0
    for name in sorted(tensors):
        data = to_bytes(tensors[name], dtype)
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for blob in blobs:
            f.write(blob)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_st_files(d, pooling, normalize_module, max_seq_length, legacy=True):
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize_module:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        os.makedirs(os.path.join(d, "2_Normalize"), exist_ok=True)
    write_json(os.path.join(d, "modules.json"), modules)
    write_json(os.path.join(d, "sentence_bert_config.json"), {"max_seq_length": max_seq_length, "do_lower_case": False})
    dim = json.load(open(os.path.join(d, "config.json")))["hidden_size"]
    if legacy:
        cfg = {
            "word_embedding_dimension": dim,
            "pooling_mode_cls_token": pooling == "cls",
            "pooling_mode_mean_tokens": pooling == "mean",
            "pooling_mode_max_tokens": pooling == "max",
            "pooling_mode_mean_sqrt_len_tokens": False,
        }
    else:
        cfg = {"word_embedding_dimension": dim, "pooling_mode": pooling}
    write_json(os.path.join(d, "1_Pooling", "config.json"), cfg)


# ---------------------------------------------------------------- vocabulary (bert-base-uncased)


def load_vocab(path):
    with open(path, encoding="utf-8") as f:
        return {tok.rstrip("\n"): i for i, tok in enumerate(f)}


def encode_text(text, vocab, max_length):
    ids = [vocab["[CLS]"]]
    for w in basic_tokenize(text):
        ids += [vocab[p] for p in wordpiece(w, vocab)]
    ids = ids[: max_length - 1] + [vocab["[SEP]"]]
    return ids


def pad_batch(seqs):
    s = max(len(x) for x in seqs)
    ids = torch.zeros(len(seqs), s, dtype=torch.long)
    mask = torch.zeros(len(seqs), s, dtype=torch.long)
    for r, x in enumerate(seqs):
        ids[r, : len(x)] = torch.tensor(x)
        mask[r, : len(x)] = 1
    return ids, mask


# ---------------------------------------------------------------- fixtures


def make_tiny():
    d = os.path.join(OUT, "tiny")
    os.makedirs(d, exist_ok=True)
    cfg = make_config(vocab=1000, hidden=32, layers=2, heads=4, inter=64, max_pos=64)
    write_json(os.path.join(d, "config.json"), cfg)
    gen = torch.Generator().manual_seed(1234)
    w = random_weights(cfg, gen)
    pooler = {"pooler.dense.weight": torch.randn(32, 32, generator=gen), "pooler.dense.bias": torch.zeros(32)}
    write_safetensors(os.path.join(d, "model.safetensors"), {**w, **pooler}, "F32", {"format": "pt"})
    write_safetensors(os.path.join(d, "model.f16.safetensors"), {"bert." + k: v for k, v in w.items()}, "F16")
    write_safetensors(os.path.join(d, "model.bf16.safetensors"), w, "BF16")
    write_st_files(d, "mean", True, 48)

    # Ten sequences of different lengths (CLS ... SEP), some with segment B token types, padded together.
    lengths = [3, 7, 12, 20, 5, 16, 9, 2, 14, 11]
    seqs, type_rows = [], []
    for n in lengths:
        body = torch.randint(1000, (n - 2,), generator=gen).clamp(min=103).tolist()
        seqs.append([101] + body + [102])
        split = n // 2 if n % 3 == 0 else n
        type_rows.append([0] * split + [1] * (n - split))
    ids, mask = pad_batch(seqs)
    types = torch.zeros_like(ids)
    for r, t in enumerate(type_rows):
        types[r, : len(t)] = torch.tensor(t)
    hidden = bert_forward(w, cfg, ids, mask, types)
    ref = {
        "input_ids": ids.tolist(),
        "attention_mask": mask.tolist(),
        "token_type_ids": types.tolist(),
        "hidden_first3": [rows(hidden[r]) for r in range(3)],
        "pooled": pooled_all(hidden, mask),
    }
    for dtype in ["F16", "BF16"]:
        wq = {k: from_dtype(v, dtype) for k, v in w.items()}
        ref["pooled_" + dtype.lower()] = pooled_all(bert_forward(wq, cfg, ids, mask, types), mask)
    # Each sequence alone (no padding) must give the same vectors: padding must not leak into the result.
    ref["mean_unpadded_row1"] = rows(pool(bert_forward(w, cfg, ids[1:2, : lengths[1]], mask[1:2, : lengths[1]],
                                                       types[1:2, : lengths[1]]), mask[1:2, : lengths[1]], "mean"))[0]
    write_json(os.path.join(d, "reference.json"), ref)


def make_e2e():
    d = os.path.join(OUT, "e2e")
    os.makedirs(d, exist_ok=True)
    cfg = make_config(vocab=30522, hidden=8, layers=1, heads=2, inter=16, max_pos=128)
    write_json(os.path.join(d, "config.json"), cfg)
    gen = torch.Generator().manual_seed(99)
    w = random_weights(cfg, gen)
    write_safetensors(os.path.join(d, "model.safetensors"), w, "F32", {"format": "pt"})
    max_seq_length = 16
    write_st_files(d, "mean", True, max_seq_length)
    vocab = load_vocab(VOCAB)
    texts = [
        "Hello, world!",
        "Dense retrieval maps queries and documents to vectors.",
        "The quick brown fox jumps over the lazy dog near the riverbank at dawn, twice.",
        "BERT",
        "Café résumé naïve",
        "What is the boiling point of water at sea level?",
        "A very long sentence that keeps going and going so that it must be truncated to the maximum sequence length.",
        "tokenization of unbelievably unaffordable words",
    ]
    seqs = [encode_text(t, vocab, max_seq_length) for t in texts]
    assert seqs[0] == [101, 7592, 1010, 2088, 999, 102], seqs[0]
    ids, mask = pad_batch(seqs)
    hidden = bert_forward(w, cfg, ids, mask, torch.zeros_like(ids))
    write_json(
        os.path.join(d, "reference.json"),
        {"texts": texts, "max_seq_length": max_seq_length, "input_ids": seqs, "pooled": pooled_all(hidden, mask)},
    )


def read_safetensors(path):
    """Independent reader, used by --check on directories our TypeScript code saved."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    assert n % 8 == 0, "header not 8-byte aligned"
    assert header.get("__metadata__", {}).get("format") == "pt", "transformers needs format=pt metadata"
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", e["dtype"]
        b, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + b : 8 + n + end], dtype="<f4").copy()).reshape(e["shape"])
    return out


def check_saved(d):
    """Embed the e2e reference texts with a directory saved by SentenceEncoder.save(), reading it only
    through the sentence-transformers files, and compare with reference.json."""
    cfg = json.load(open(os.path.join(d, "config.json")))
    w = {k: v.double() for k, v in read_safetensors(os.path.join(d, "model.safetensors")).items()}
    modules = json.load(open(os.path.join(d, "modules.json")))
    pooling_cfg = json.load(open(os.path.join(d, "1_Pooling", "config.json")))
    mode = [m for m in ["cls", "mean", "max"] if pooling_cfg.get(f"pooling_mode_{m}_token" if m == "cls" else f"pooling_mode_{m}_tokens")]
    assert len(mode) == 1, pooling_cfg
    normalized = any(m["type"].endswith("Normalize") for m in modules)
    max_len = json.load(open(os.path.join(d, "sentence_bert_config.json")))["max_seq_length"]
    ref = json.load(open(os.path.join(OUT, "e2e", "reference.json")))
    vocab = {}
    with open(os.path.join(d, "vocab.txt"), encoding="utf-8") as f:
        for i, tok in enumerate(f):
            vocab[tok.rstrip("\n")] = i
    ids, mask = pad_batch([encode_text(t, vocab, max_len) for t in ref["texts"]])
    hidden = bert_forward(w, cfg, ids, mask, torch.zeros_like(ids))
    emb = pool(hidden, mask, mode[0])
    if normalized:
        emb = normalize(emb)
    key = mode[0] + ("_normalized" if normalized else "")
    diff = (emb - torch.tensor(ref["pooled"][key], dtype=torch.float64)).abs().max().item()
    print(f"{d}: pooling {mode[0]}, normalize {normalized}, max_seq_length {max_len}; max abs diff vs {key}: {diff:.2e}")
    return diff


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(0 if check_saved(sys.argv[2]) <= 1e-4 else 1)
    make_tiny()
    make_e2e()
    print("wrote", OUT)
