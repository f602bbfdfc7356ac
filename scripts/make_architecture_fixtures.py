#!/usr/bin/python3
"""Reference fixtures for the RoBERTa, XLM-RoBERTa, DistilBERT, MPNet and ModernBERT encoders
(test/fixtures/<arch>/; modernbert-bias has every bias ModernBERT's config can ask for, dense/ a Dense module).

Run by hand from the repository root with Debian's python3 (torch + numpy; no transformers, no tokenizers):

    /usr/bin/python3 scripts/make_architecture_fixtures.py

Each architecture's forward pass is written here from the Hugging Face modeling equations (RobertaModel,
XLMRobertaModel, DistilBertModel, MPNetModel, ModernBertModel) in float64 torch, independently of the TypeScript code. Every
fixture directory is a small random checkpoint in Hugging Face + sentence-transformers layout:

  config.json                   the architecture's own config fields (DistilBERT: dim, n_layers, ...)
  model.safetensors             F32, HF names without the model prefix (as sentence-transformers saves)
  model.prefixed.safetensors    F32, HF names with the prefix (`roberta.`, `distilbert.`, `mpnet.`)
  model.f16.safetensors         F16 with the prefix;  model.bf16.safetensors  BF16 without it
  tokenizer.json, tokenizer_config.json, special_tokens_map.json   a WordPiece tokenizer over a tiny vocab
                                with the architecture's special tokens (`<s>`/`</s>`/`<pad>` or [CLS]/[SEP])
  modules.json, sentence_bert_config.json, 1_Pooling/config.json   mean pooling
  reference.json                texts and their ids (pure-Python WordPiece), padded batch, pooled embeddings
                                (cls / mean / max) for F32/F16/BF16 weights, and a gradient check: the loss
                                sum(tanh(mean_pool(h)) * R) and d loss / d a few parameters (torch autograd)
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_fixtures import basic_tokenize, wordpiece  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures")
torch.set_default_dtype(torch.float64)

TEXTS = [
    "dense retrieval maps queries and passages to vectors.",
    "a short query",
    "BM25 is a sparse baseline; dense models are trained on pairs of queries and relevant passages.",
    "vectors",
]
WORDS = sorted(
    set(w for t in TEXTS for w in basic_tokenize(t) if len(w) > 2 and w.isalpha())
    | {"a", "is", "of", "on", "to", "the", "query", "passage"}
)
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)] + list(".;,:")

HIDDEN, LAYERS, HEADS, INTER = 16, 2, 4, 32


# ---------------------------------------------------------------- vocabularies and tokenizers


def make_vocab(specials):
    tokens = list(specials) + LETTERS + ["##" + c for c in LETTERS] + [w for w in WORDS if w not in LETTERS]
    return {t: i for i, t in enumerate(tokens)}


def tokenizer_json(vocab, cls, sep, pad, unk, roberta_style):
    if roberta_style:
        post = {"type": "RobertaProcessing", "sep": [sep, vocab[sep]], "cls": [cls, vocab[cls]],
                "trim_offsets": True, "add_prefix_space": False}
    else:
        post = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": cls, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": sep, "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": cls, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": sep, "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": sep, "type_id": 1}}],
            "special_tokens": {t: {"id": t, "ids": [vocab[t]], "tokens": [t]} for t in (cls, sep)},
        }
    specials = [t for t in vocab if t.startswith("[") or t.startswith("<")]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": vocab[t], "special": True, "content": t, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False} for t in specials],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": post,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": unk, "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


def encode(text, vocab, cls, sep):
    ids = [vocab[cls]]
    for w in basic_tokenize(text):
        ids += [vocab[p] for p in wordpiece(w, vocab)]
    return ids + [vocab[sep]]


# ---------------------------------------------------------------- shared math (HF semantics, float64)


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * g + b


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def roberta_position_ids(ids, pad):
    """HF create_position_ids_from_input_ids: cumsum over non-pad tokens, offset by padding_idx."""
    mask = ids.ne(pad).long()
    return torch.cumsum(mask, dim=1) * mask + pad


def mpnet_bucket(relative_position, num_buckets=32, max_distance=128):
    """HF MPNetEncoder.relative_position_bucket, verbatim semantics (the log runs in float32)."""
    ret = 0
    n = -relative_position
    num_buckets //= 2
    ret += (n < 0).to(torch.long) * num_buckets
    n = torch.abs(n)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    val_if_large = max_exact + (
        torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(torch.long)
    val_if_large = torch.min(val_if_large, torch.full_like(val_if_large, num_buckets - 1))
    return ret + torch.where(is_small, n, val_if_large)


def attention(x, p, w, nh, mask, eps, names, bias=None, masked_fill=False):
    """One post-LN block (BERT / RoBERTa / DistilBERT / MPNet share it); `names` gives the tensor names."""
    b, s, h = x.shape
    dh = h // nh

    def lin(t, name):
        return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

    def heads(t):
        return t.reshape(b, s, nh, dh).permute(0, 2, 1, 3)

    q, k, v = heads(lin(x, names["q"])), heads(lin(x, names["k"])), heads(lin(x, names["v"]))
    if masked_fill:
        # DistilBERT: q / sqrt(d), then masked_fill(mask == 0, finfo.min).
        scores = (q / math.sqrt(dh)) @ k.transpose(-1, -2)
        scores = scores.masked_fill((mask == 0)[:, None, None, :], torch.finfo(scores.dtype).min)
    else:
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
        if bias is not None:
            scores = scores + bias
        scores = scores + (1.0 - mask[:, None, None, :].double()) * torch.finfo(torch.float32).min
    probs = torch.softmax(scores, dim=-1)
    ctx = (probs @ v).permute(0, 2, 1, 3).reshape(b, s, h)
    x1 = layer_norm(lin(ctx, names["o"]) + x, w[p + names["ln1"] + ".weight"], w[p + names["ln1"] + ".bias"], eps)
    inter = gelu(lin(x1, names["i"]))
    return layer_norm(lin(inter, names["out"]) + x1, w[p + names["ln2"] + ".weight"], w[p + names["ln2"] + ".bias"], eps)


BERT_NAMES = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
              "o": "attention.output.dense", "ln1": "attention.output.LayerNorm", "i": "intermediate.dense",
              "out": "output.dense", "ln2": "output.LayerNorm"}
DISTIL_NAMES = {"q": "attention.q_lin", "k": "attention.k_lin", "v": "attention.v_lin", "o": "attention.out_lin",
                "ln1": "sa_layer_norm", "i": "ffn.lin1", "out": "ffn.lin2", "ln2": "output_layer_norm"}
MPNET_NAMES = {"q": "attention.attn.q", "k": "attention.attn.k", "v": "attention.attn.v", "o": "attention.attn.o",
               "ln1": "attention.LayerNorm", "i": "intermediate.dense", "out": "output.dense", "ln2": "output.LayerNorm"}


def forward(arch, w, cfg, ids, mask):
    """Last hidden state [B, S, H] in eval mode."""
    if arch in ("roberta", "xlm-roberta"):
        pos = roberta_position_ids(ids, cfg["pad_token_id"])
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][pos]
             + w["embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)])
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], cfg["layer_norm_eps"])
        for l in range(cfg["num_hidden_layers"]):
            x = attention(x, f"encoder.layer.{l}.", w, cfg["num_attention_heads"], mask, cfg["layer_norm_eps"],
                          BERT_NAMES)
        return x
    if arch.startswith("distilbert"):
        s = ids.shape[1]
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][torch.arange(s)][None]
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], 1e-12)
        for l in range(cfg["n_layers"]):
            x = attention(x, f"transformer.layer.{l}.", w, cfg["n_heads"], mask, 1e-12, DISTIL_NAMES,
                          masked_fill=True)
        return x
    if arch == "mpnet":
        pos = roberta_position_ids(ids, cfg["pad_token_id"])
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][pos]
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], cfg["layer_norm_eps"])
        s = ids.shape[1]
        rel = torch.arange(s)[None, :] - torch.arange(s)[:, None]  # memory - context
        bucket = mpnet_bucket(rel, num_buckets=cfg["relative_attention_num_buckets"])
        bias = w["encoder.relative_attention_bias.weight"][bucket].permute(2, 0, 1)[None]
        for l in range(cfg["num_hidden_layers"]):
            x = attention(x, f"encoder.layer.{l}.", w, cfg["num_attention_heads"], mask, cfg["layer_norm_eps"],
                          MPNET_NAMES, bias=bias)
        return x
    if arch.startswith("modernbert"):
        return modernbert_forward(w, cfg, ids, mask)
    raise ValueError(arch)


def modernbert_forward(w, cfg, ids, mask):
    """HF ModernBertModel (sdpa path): pre-norm, RoPE, global / sliding-window attention, GeGLU, final norm."""
    b, s = ids.shape
    h, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    hd = h // nh
    eps = cfg["norm_eps"]

    def ln(x, name):
        return layer_norm(x, w[name + ".weight"], w.get(name + ".bias", 0.0), eps)

    def lin(x, name):
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y

    x = ln(w["embeddings.tok_embeddings.weight"][ids], "embeddings.norm")
    fmin = torch.finfo(torch.float32).min
    ext = (1.0 - mask[:, None, None, :].double()) * fmin
    distance = (torch.arange(s)[None, :] - torch.arange(s)[:, None]).abs()
    local = ext.masked_fill((distance > cfg["local_attention"] // 2)[None, None], fmin)

    def rot(t):
        return torch.cat((-t[..., hd // 2:], t[..., : hd // 2]), -1)

    for l in range(cfg["num_hidden_layers"]):
        p = f"layers.{l}."
        is_global = l % cfg["global_attn_every_n_layers"] == 0
        theta = cfg["global_rope_theta"] if is_global else cfg["local_rope_theta"]
        a = x if l == 0 else ln(x, p + "attn_norm")
        q, k, v = lin(a, p + "attn.Wqkv").view(b, s, 3, nh, hd).transpose(3, 1).unbind(dim=2)
        # Rotary tables in float32, as HF computes them whatever the model dtype.
        inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        freqs = torch.arange(s).float()[:, None] * inv[None, :]
        emb = torch.cat((freqs, freqs), -1)
        cos, sin = emb.cos().double(), emb.sin().double()
        q = q * cos + rot(q) * sin
        k = k * cos + rot(k) * sin
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + (ext if is_global else local)
        ctx = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(b, s, h)
        x = x + lin(ctx, p + "attn.Wo")
        inp, gate = lin(ln(x, p + "mlp_norm"), p + "mlp.Wi").chunk(2, dim=-1)
        x = x + lin(gelu(inp) * gate, p + "mlp.Wo")
    return ln(x, "final_norm")


POOLING_MODES = ("cls", "mean", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")


def pool(hidden, mask, mode):
    """sentence-transformers' Pooling.forward equations; `mask` is the pooling mask (prompt tokens zeroed
    for include_prompt false)."""
    m = mask[:, :, None].double()
    if mode == "cls":
        return hidden[:, 0]
    if mode in ("mean", "mean_sqrt_len_tokens"):
        count = torch.clamp(m.sum(1), min=1e-9)
        return (hidden * m).sum(1) / (count if mode == "mean" else torch.sqrt(count))
    if mode == "weightedmean":
        w = m * torch.arange(1, hidden.shape[1] + 1, dtype=torch.float64)[None, :, None]
        return (hidden * w).sum(1) / torch.clamp(w.sum(1), min=1e-9)
    if mode == "lasttoken":
        # The last position whose mask is 1 (the last one of an all-zero row).
        seq = hidden.shape[1]
        values, idx = mask.flip(1).max(1)
        idx = torch.where(values == 0, torch.full_like(idx, seq - 1), idx)
        last = seq - idx - 1
        return (hidden * m)[torch.arange(hidden.shape[0]), last]
    masked = hidden.clone()
    masked[m.expand_as(hidden) == 0] = -1e9
    return masked.max(1).values


def sinusoids(n_pos, dim):
    """HF create_sinusoidal_embeddings (float32 table)."""
    enc = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)])
    out = torch.zeros(n_pos, dim, dtype=torch.float32)
    out[:, 0::2] = torch.FloatTensor(np.sin(enc[:, 0::2]))
    out[:, 1::2] = torch.FloatTensor(np.cos(enc[:, 1::2]))
    return out.double()


# ---------------------------------------------------------------- configs and weights


def make_config(arch, vocab_size, pad):
    if arch in ("roberta", "xlm-roberta"):
        return {"architectures": ["RobertaModel" if arch == "roberta" else "XLMRobertaModel"], "model_type": arch,
                "vocab_size": vocab_size, "hidden_size": HIDDEN, "num_hidden_layers": LAYERS,
                "num_attention_heads": HEADS, "intermediate_size": INTER, "hidden_act": "gelu",
                "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 66,
                "type_vocab_size": 1, "initializer_range": 0.02, "layer_norm_eps": 1e-5, "pad_token_id": pad,
                "bos_token_id": 0, "eos_token_id": 2, "position_embedding_type": "absolute"}
    if arch.startswith("distilbert"):
        return {"architectures": ["DistilBertModel"], "model_type": "distilbert", "vocab_size": vocab_size,
                "dim": HIDDEN, "n_layers": LAYERS, "n_heads": HEADS, "hidden_dim": INTER, "activation": "gelu",
                "dropout": 0.1, "attention_dropout": 0.1, "max_position_embeddings": 64,
                "sinusoidal_pos_embds": arch == "distilbert-sinusoidal", "initializer_range": 0.02,
                "pad_token_id": pad, "qa_dropout": 0.1, "seq_classif_dropout": 0.2, "tie_weights_": True}
    if arch == "mpnet":
        return {"architectures": ["MPNetModel"], "model_type": "mpnet", "vocab_size": vocab_size,
                "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
                "intermediate_size": INTER, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
                "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 66, "initializer_range": 0.02,
                "layer_norm_eps": 1e-5, "relative_attention_num_buckets": 32, "pad_token_id": pad,
                "bos_token_id": 0, "eos_token_id": 2}
    if arch.startswith("modernbert"):
        biases = arch == "modernbert-bias"
        # local_attention 4: windows of +-2 tokens, much shorter than the fixture's 23-token batch.
        return {"architectures": ["ModernBertModel"], "model_type": "modernbert", "vocab_size": vocab_size,
                "hidden_size": HIDDEN, "num_hidden_layers": 3, "num_attention_heads": HEADS,
                "intermediate_size": 24, "hidden_activation": "gelu", "max_position_embeddings": 64,
                "initializer_range": 0.02, "norm_eps": 1e-5, "norm_bias": biases, "attention_bias": biases,
                "mlp_bias": biases, "global_rope_theta": 160000.0, "local_rope_theta": 10000.0,
                "global_attn_every_n_layers": 3, "local_attention": 4, "attention_dropout": 0.0,
                "embedding_dropout": 0.0, "mlp_dropout": 0.0, "pad_token_id": pad, "cls_token_id": 2,
                "sep_token_id": 3}
    raise ValueError(arch)


def modernbert_weights(cfg, rnd):
    h, i = HIDDEN, cfg["intermediate_size"]
    w = {"embeddings.tok_embeddings.weight": rnd(cfg["vocab_size"], h, std=1.0),
         "embeddings.norm.weight": 1 + rnd(h, std=0.2), "final_norm.weight": 1 + rnd(h, std=0.2)}
    if cfg["norm_bias"]:
        w["embeddings.norm.bias"] = rnd(h, std=0.1)
        w["final_norm.bias"] = rnd(h, std=0.1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"layers.{l}."
        if l != 0:
            w[p + "attn_norm.weight"] = 1 + rnd(h, std=0.2)
        w[p + "attn.Wqkv.weight"] = rnd(3 * h, h, std=1.5 / math.sqrt(h))
        w[p + "attn.Wo.weight"] = rnd(h, h, std=1.5 / math.sqrt(h))
        w[p + "mlp_norm.weight"] = 1 + rnd(h, std=0.2)
        w[p + "mlp.Wi.weight"] = rnd(2 * i, h, std=1.5 / math.sqrt(h))
        w[p + "mlp.Wo.weight"] = rnd(h, i, std=1.5 / math.sqrt(i))
        if cfg["norm_bias"]:
            for name in ([] if l == 0 else ["attn_norm"]) + ["mlp_norm"]:
                w[p + name + ".bias"] = rnd(h, std=0.1)
        if cfg["attention_bias"]:
            w[p + "attn.Wqkv.bias"] = rnd(3 * h, std=0.1)
            w[p + "attn.Wo.bias"] = rnd(h, std=0.1)
        if cfg["mlp_bias"]:
            w[p + "mlp.Wi.bias"] = rnd(2 * i, std=0.1)
            w[p + "mlp.Wo.bias"] = rnd(h, std=0.1)
    return {k: t.float().double() for k, t in w.items()}


def random_weights(arch, cfg, gen):
    h, i, v = HIDDEN, INTER, cfg["vocab_size"]

    def rnd(*shape, std=0.3):
        return torch.randn(*shape, generator=gen) * std

    if arch.startswith("modernbert"):
        return modernbert_weights(cfg, rnd)
    w = {"embeddings.word_embeddings.weight": rnd(v, h, std=1.0),
         "embeddings.LayerNorm.weight": 1 + rnd(h, std=0.2), "embeddings.LayerNorm.bias": rnd(h, std=0.1)}
    if arch == "distilbert-sinusoidal":
        w["embeddings.position_embeddings.weight"] = sinusoids(cfg["max_position_embeddings"], h)
    else:
        w["embeddings.position_embeddings.weight"] = rnd(cfg["max_position_embeddings"], h, std=0.5)
    if arch in ("roberta", "xlm-roberta"):
        w["embeddings.token_type_embeddings.weight"] = rnd(1, h, std=0.5)
    names, prefix = (DISTIL_NAMES, "transformer.layer.") if arch.startswith("distilbert") else (
        (MPNET_NAMES if arch == "mpnet" else BERT_NAMES), "encoder.layer.")
    for l in range(LAYERS):
        p = f"{prefix}{l}."
        for key in ("q", "k", "v", "o"):
            w[p + names[key] + ".weight"] = rnd(h, h, std=1.5 / math.sqrt(h))
            w[p + names[key] + ".bias"] = rnd(h, std=0.1)
        w[p + names["i"] + ".weight"] = rnd(i, h, std=1.5 / math.sqrt(h))
        w[p + names["i"] + ".bias"] = rnd(i, std=0.1)
        w[p + names["out"] + ".weight"] = rnd(h, i, std=1.5 / math.sqrt(i))
        w[p + names["out"] + ".bias"] = rnd(h, std=0.1)
        for key in ("ln1", "ln2"):
            w[p + names[key] + ".weight"] = 1 + rnd(h, std=0.2)
            w[p + names[key] + ".bias"] = rnd(h, std=0.1)
    if arch == "mpnet":
        w["encoder.relative_attention_bias.weight"] = rnd(cfg["relative_attention_num_buckets"], HEADS, std=1.0)
    if not arch.startswith("distilbert"):
        w["pooler.dense.weight"] = rnd(h, h, std=0.1)
        w["pooler.dense.bias"] = rnd(h, std=0.1)
    return {k: t.float().double() for k, t in w.items()}


# Parameters whose gradients are checked: (HF name, our canonical BERT-style name, is a Linear weight).
def grad_params(arch):
    if arch == "modernbert-bias":
        return [("layers.1.attn.Wqkv.bias", "layers.1.attn.Wqkv.bias", False),
                ("layers.2.mlp.Wi.bias", "layers.2.mlp.Wi.bias", False),
                ("layers.1.mlp_norm.bias", "layers.1.mlp_norm.bias", False),
                ("final_norm.bias", "final_norm.bias", False),
                ("layers.0.attn.Wo.weight", "layers.0.attn.Wo.weight", True)]
    if arch == "modernbert":
        return [("layers.1.attn.Wqkv.weight", "layers.1.attn.Wqkv.weight", True),
                ("layers.2.mlp.Wi.weight", "layers.2.mlp.Wi.weight", True),
                ("layers.0.attn.Wo.weight", "layers.0.attn.Wo.weight", True),
                ("final_norm.weight", "final_norm.weight", False),
                ("embeddings.tok_embeddings.weight", "embeddings.tok_embeddings.weight", False)]
    if arch.startswith("distilbert"):
        out = [("transformer.layer.0.attention.q_lin.weight", "encoder.layer.0.attention.self.query.weight", True),
               ("transformer.layer.1.ffn.lin2.bias", "encoder.layer.1.output.dense.bias", False),
               ("transformer.layer.1.output_layer_norm.weight", "encoder.layer.1.output.LayerNorm.weight", False)]
    elif arch == "mpnet":
        out = [("encoder.layer.0.attention.attn.q.weight", "encoder.layer.0.attention.self.query.weight", True),
               ("encoder.layer.1.attention.LayerNorm.weight", "encoder.layer.1.attention.output.LayerNorm.weight", False),
               ("encoder.relative_attention_bias.weight", "encoder.relative_attention_bias.weight", False)]
    else:
        out = [("encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.self.query.weight", True),
               ("encoder.layer.1.output.dense.bias", "encoder.layer.1.output.dense.bias", False),
               ("embeddings.token_type_embeddings.weight", "embeddings.token_type_embeddings.weight", False)]
    out.append(("embeddings.word_embeddings.weight", "embeddings.word_embeddings.weight", False))
    if arch != "distilbert-sinusoidal":
        out.append(("embeddings.position_embeddings.weight", "embeddings.position_embeddings.weight", False))
    return out


# ---------------------------------------------------------------- files


def to_bytes(t, dtype):
    a = t.float().contiguous()
    if dtype == "F32":
        return a.numpy().astype("<f4").tobytes()
    if dtype == "F16":
        return a.numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        return a.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(dtype)


def from_dtype(t, dtype):
    a = t.float()
    if dtype == "F16":
        return torch.from_numpy(a.numpy().astype(np.float16).astype(np.float64))
    if dtype == "BF16":
        return a.to(torch.bfloat16).double()
    return a.double()


def write_safetensors(path, tensors, dtype):
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
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


def rows(t):
    return [[float("%.9g" % v) for v in r] for r in t.double().tolist()]


PREFIX = {"roberta": "roberta.", "xlm-roberta": "roberta.", "distilbert": "distilbert.",
          "distilbert-sinusoidal": "distilbert.", "mpnet": "mpnet.", "modernbert": "model.",
          "modernbert-bias": "model."}


def make(arch, seed):
    d = os.path.join(OUT, arch)
    os.makedirs(d, exist_ok=True)
    roberta_style = arch in ("roberta", "xlm-roberta", "mpnet")
    if roberta_style:
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        cls, sep, pad_tok, unk = "<s>", "</s>", "<pad>", "<unk>"
    else:
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        cls, sep, pad_tok, unk = "[CLS]", "[SEP]", "[PAD]", "[UNK]"
    vocab = make_vocab(specials)
    pad = vocab[pad_tok]
    cfg = make_config(arch, len(vocab), pad)
    gen = torch.Generator().manual_seed(seed)
    w = random_weights(arch, cfg, gen)
    write_json(os.path.join(d, "config.json"), cfg)
    prefixed = {PREFIX[arch] + k: t for k, t in w.items()}
    write_safetensors(os.path.join(d, "model.safetensors"), w, "F32")
    write_safetensors(os.path.join(d, "model.prefixed.safetensors"), prefixed, "F32")
    write_safetensors(os.path.join(d, "model.f16.safetensors"), prefixed, "F16")
    write_safetensors(os.path.join(d, "model.bf16.safetensors"), w, "BF16")
    write_json(os.path.join(d, "tokenizer.json"), tokenizer_json(vocab, cls, sep, pad_tok, unk, roberta_style))
    special_map = {"cls_token": cls, "sep_token": sep, "pad_token": pad_tok, "unk_token": unk,
                   "mask_token": specials[4]}
    if roberta_style:
        special_map.update({"bos_token": "<s>", "eos_token": "</s>"})
    write_json(os.path.join(d, "special_tokens_map.json"), special_map)
    write_json(os.path.join(d, "tokenizer_config.json"), {**special_map, "model_max_length": 64,
                                                           "do_lower_case": True})
    write_json(os.path.join(d, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])
    write_json(os.path.join(d, "sentence_bert_config.json"), {"max_seq_length": 64, "do_lower_case": False})
    write_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": HIDDEN, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})

    seqs = [encode(t, vocab, cls, sep) for t in TEXTS]
    s = max(len(x) for x in seqs)
    ids = torch.full((len(seqs), s), pad, dtype=torch.long)
    mask = torch.zeros(len(seqs), s, dtype=torch.long)
    for r, x in enumerate(seqs):
        ids[r, : len(x)] = torch.tensor(x)
        mask[r, : len(x)] = 1
    ref = {"texts": TEXTS, "input_ids": ids.tolist(), "attention_mask": mask.tolist(), "pooled": {}}
    for dtype, key in (("F32", "f32"), ("F16", "f16"), ("BF16", "bf16")):
        wd = {k: from_dtype(t, dtype) for k, t in w.items()}
        if arch == "distilbert-sinusoidal":
            wd["embeddings.position_embeddings.weight"] = w["embeddings.position_embeddings.weight"]
        hidden = forward(arch, wd, cfg, ids, mask)
        ref["pooled"][key] = {mode: rows(pool(hidden, mask, mode)) for mode in POOLING_MODES}

    # include_prompt false: an e5-style prompt is prepended and its tokens (with the opening special token,
    # sentence-transformers' prompt_length = len(tokenize(prompt)) - 1) are left out of mean pooling.
    prompt = "query: "
    pseqs = [encode(prompt + t, vocab, cls, sep) for t in TEXTS]
    prompt_length = len(encode(prompt, vocab, cls, sep)) - 1
    ps = max(len(x) for x in pseqs)
    pids = torch.full((len(pseqs), ps), pad, dtype=torch.long)
    pmask = torch.zeros(len(pseqs), ps, dtype=torch.long)
    for r, x in enumerate(pseqs):
        pids[r, : len(x)] = torch.tensor(x)
        pmask[r, : len(x)] = 1
    phidden = forward(arch, w, cfg, pids, pmask)
    pool_mask = pmask.clone()
    pool_mask[:, :prompt_length] = 0
    ref["prompt"] = {"prompt": prompt, "prompt_length": prompt_length, "input_ids": pids.tolist(),
                     "mean_including_prompt": rows(pool(phidden, pmask, "mean")),
                     "mean_excluding_prompt": rows(pool(phidden, pool_mask, "mean")),
                     # Every pooling mode with the prompt tokens left out (cls and lasttoken are unaffected).
                     "excluding_prompt": {mode: rows(pool(phidden, pool_mask, mode)) for mode in POOLING_MODES}}

    # Gradient check on the F32 weights.
    params = grad_params(arch)
    wg = {k: t.clone().requires_grad_(k in {p[0] for p in params}) for k, t in w.items()}
    R = torch.randn(len(seqs), HIDDEN, generator=gen).float().double()
    loss = (torch.tanh(pool(forward(arch, wg, cfg, ids, mask), mask, "mean")) * R).sum()
    loss.backward()
    ref["grad_check"] = {"R": rows(R), "loss": float(loss), "grads": []}
    for hf, ours, linear in params:
        g = wg[hf].grad
        ref["grad_check"]["grads"].append({"hf": hf, "name": ours, "linear": linear, "shape": list(g.shape),
                                           "values": [float("%.12g" % v) for v in g.flatten().tolist()]})
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    print(arch, "vocab", len(vocab), "seq", s, "loss", float(loss))
    return w, cfg, ids, mask


def make_dense(w, cfg, ids, mask, gen):
    """test/fixtures/dense/: a sentence-transformers Dense module (Tanh, 16 -> 8, bias) to put after the
    RoBERTa fixture's mean pooling, and the reference embeddings with it (then normalized, as a Normalize
    module after it would), plus its gradient check."""
    d = os.path.join(OUT, "dense")
    os.makedirs(d, exist_ok=True)
    out_features = 8
    lw = (torch.randn(out_features, HIDDEN, generator=gen) * 0.3).float().double()
    lb = (torch.randn(out_features, generator=gen) * 0.1).float().double()
    write_json(os.path.join(d, "config.json"), {"in_features": HIDDEN, "out_features": out_features, "bias": True,
                                                "activation_function": "torch.nn.modules.activation.Tanh"})
    write_safetensors(os.path.join(d, "model.safetensors"), {"linear.weight": lw, "linear.bias": lb}, "F32")
    pooled = pool(forward("roberta", w, cfg, ids, mask), mask, "mean")
    dense = torch.tanh(pooled @ lw.T + lb)
    normalized = dense / torch.clamp(dense.norm(dim=1, keepdim=True), min=1e-12)
    lwg = lw.clone().requires_grad_(True)
    R = torch.randn(ids.shape[0], out_features, generator=gen).float().double()
    loss = (torch.tanh(pooled @ lwg.T + lb) * R).sum()
    loss.backward()
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"dense": rows(dense), "dense_normalized": rows(normalized), "R": rows(R), "loss": float(loss),
                   "grad_linear_weight": rows(lwg.grad)}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    for k, arch in enumerate(["roberta", "xlm-roberta", "distilbert", "distilbert-sinusoidal", "mpnet", "modernbert",
                                 "modernbert-bias"]):
        made = make(arch, 1000 + k)
        if arch == "roberta":
            make_dense(*made, torch.Generator().manual_seed(77))
