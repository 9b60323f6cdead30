#!/usr/bin/python3
"""Train the small reference GPT-2 shipped in tests/models/mini-shakespeare and
compute its goldens.  Not part of the build; the tests only read its output.

    nice -n 19 /usr/bin/python3 scripts/train_reference_model.py \
        [--data ../shared/data/tinyshakespeare] [--out tests/models/mini-shakespeare]

Needs python3-torch (Debian) and the tiny Shakespeare text (train.txt,
valid.txt).  Everything else is written here:

1. a byte-level BPE vocabulary (GPT-2's byte alphabet and pre-tokenizer,
   768 merges learnt from train.txt, then <|endoftext|>: 1025 tokens);
2. a GPT-2 (pre-LN, tanh GELU, learned positions, LM head tied to wte)
   trained on train.txt with AdamW, written as model.safetensors (F16, the
   HuggingFace key names and Conv1D [in, out] layout) with config.json,
   vocab.json and merges.txt;
3. goldens from a second, functional implementation of the same maths that
   reads the weights back from the written file (float32, and float64 to show
   the size of float32 rounding): token ids of test strings, last-position
   logits, greedy continuations, the NLL of valid.txt;
4. calib.txt: text sampled from the model, for W8A8 calibration in tests
   (so the tests need nothing from ../shared).

The tokenizer here is an independent implementation of encoder.py's rules
(docs/tokenizer.md): White_Space for \\s, Unicode general categories L* and
N* for \\p{L} and \\p{N}.  Strings with code points this Python's Unicode
tables do not know are left out of the tokenizer cases.
"""
import argparse
import hashlib
import json
import math
import os
import struct
import time
import unicodedata
from collections import Counter

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# ---------------------------------------------------------------- tokenizer

WHITE_SPACE = set(
    [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
    + list(range(0x2000, 0x200B))
)
CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")


def is_space(c):
    return ord(c) in WHITE_SPACE


def is_letter(c):
    return unicodedata.category(c)[0] == "L"


def is_number(c):
    return unicodedata.category(c)[0] == "N"


def is_other(c):
    return not (is_space(c) or is_letter(c) or is_number(c))


def run_of(s, i, pred):
    j = i
    while j < len(s) and pred(s[j]):
        j += 1
    return j


def pretokenize(s):
    """GPT-2's pattern, alternative by alternative, at each position:
    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"""
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if c == "'":
            suf = next((x for x in CONTRACTIONS if s.startswith(x, i + 1)), None)
            if suf:
                out.append(s[i:i + 1 + len(suf)])
                i += 1 + len(suf)
                continue
        start = i + 1 if c == " " and i + 1 < n and not is_space(s[i + 1]) else i
        lead = s[start]
        for pred in (is_letter, is_number, is_other):
            if pred(lead):
                j = run_of(s, start, pred)
                out.append(s[i:j])
                i = j
                break
        else:
            # whitespace: \s+(?!\S) keeps the last space for a following word
            j = run_of(s, i, is_space)
            if j < n and j - i > 1:
                j -= 1
            out.append(s[i:j])
            i = j
    return out


def byte_alphabet():
    """GPT-2's printable stand-ins for the 256 bytes, in GPT-2's id order."""
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    order, chars, extra = keep[:], {}, 0
    for b in keep:
        chars[b] = chr(b)
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            order.append(b)
            extra += 1
    return order, chars


BYTE_ORDER, BYTE_CHAR = byte_alphabet()


def to_symbols(piece):
    return tuple(BYTE_CHAR[b] for b in piece.encode("utf-8"))


def train_bpe(text, n_merges):
    """Merge the most frequent adjacent pair (ties: the smallest pair), within
    pre-tokenizer pieces, n_merges times.  Pair counts are kept up to date
    for the words a merge touches only."""
    counts = Counter(to_symbols(p) for p in pretokenize(text))
    words = [list(w) for w in counts]
    freq = [counts[w] for w in counts]
    pairs, where = Counter(), {}
    for k, w in enumerate(words):
        for pr in zip(w, w[1:]):
            pairs[pr] += freq[k]
            where.setdefault(pr, set()).add(k)
    merges = []
    for _ in range(n_merges):
        pairs = +pairs  # drop zero counts
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        joined = best[0] + best[1]
        for k in where.pop(best, ()):
            w, f = words[k], freq[k]
            for pr in zip(w, w[1:]):
                pairs[pr] -= f
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(joined)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[k] = out
            for pr in zip(out, out[1:]):
                pairs[pr] += f
                where.setdefault(pr, set()).add(k)
        pairs.pop(best, None)
    vocab = {BYTE_CHAR[b]: i for i, b in enumerate(BYTE_ORDER)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab, merges


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.rank = {m: i for i, m in enumerate(merges)}
        self.inv = {i: t for t, i in vocab.items()}
        self.byte_of = {c: b for b, c in BYTE_CHAR.items()}
        self.cache = {}

    def bpe(self, sym):
        w = list(sym)
        while len(w) > 1:
            best = min(set(zip(w, w[1:])), key=lambda p: self.rank.get(p, math.inf))
            if best not in self.rank:
                break
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            w = out
        return w

    def encode(self, text):
        out = []
        for p in pretokenize(text):
            if p not in self.cache:
                self.cache[p] = [self.vocab[t] for t in self.bpe(to_symbols(p))]
            out += self.cache[p]
        return out

    def tokens(self, ids):
        return [self.inv[i] for i in ids]

    def decode(self, ids):
        return bytes(self.byte_of[c] for i in ids for c in self.inv[i]).decode("utf-8", "replace")


# ---------------------------------------------------------------- model (training)


class Block(torch.nn.Module):
    def __init__(self, c, h, f, drop):
        super().__init__()
        self.h = h
        self.ln_1, self.ln_2 = torch.nn.LayerNorm(c, eps=1e-5), torch.nn.LayerNorm(c, eps=1e-5)
        self.qkv, self.proj = torch.nn.Linear(c, 3 * c), torch.nn.Linear(c, c)
        self.fc, self.fc2 = torch.nn.Linear(c, f), torch.nn.Linear(f, c)
        self.drop = torch.nn.Dropout(drop)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(c // self.h)
        mask = torch.ones(t, t, dtype=torch.bool).tril()
        att = self.drop(att.masked_fill(~mask, float("-inf")).softmax(-1))
        y = (att @ v).transpose(1, 2).reshape(b, t, c)
        x = x + self.drop(self.proj(y))
        g = self.fc(self.ln_2(x))
        g = 0.5 * g * (1 + torch.tanh(math.sqrt(2 / math.pi) * (g + 0.044715 * g ** 3)))
        return x + self.drop(self.fc2(g))


class GPT(torch.nn.Module):
    def __init__(self, cfg, drop=0.1):
        super().__init__()
        c = cfg["n_embd"]
        self.wte = torch.nn.Embedding(cfg["vocab_size"], c)
        self.wpe = torch.nn.Embedding(cfg["n_positions"], c)
        self.blocks = torch.nn.ModuleList(
            [Block(c, cfg["n_head"], cfg["n_inner"], drop) for _ in range(cfg["n_layer"])])
        self.ln_f = torch.nn.LayerNorm(c, eps=1e-5)
        self.drop = torch.nn.Dropout(drop)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * cfg["n_layer"]) if name.endswith(("proj.weight", "fc2.weight")) else 0.02
                torch.nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                torch.nn.init.zeros_(p)

    def forward(self, idx):
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(idx.shape[1])))
        for blk in self.blocks:
            x = blk(x)
        return self.ln_f(x) @ self.wte.weight.T


def hf_tensors(model, cfg):
    """The trained weights under HuggingFace GPT-2 names (Conv1D: [in, out])."""
    sd = {k: v.detach().float() for k, v in model.state_dict().items()}
    out = {"wte.weight": sd["wte.weight"], "wpe.weight": sd["wpe.weight"]}
    hf = {"ln_1": "ln_1", "ln_2": "ln_2", "qkv": "attn.c_attn", "proj": "attn.c_proj", "fc": "mlp.c_fc",
          "fc2": "mlp.c_proj"}
    for l in range(cfg["n_layer"]):
        for ours, theirs in hf.items():
            w, b = sd[f"blocks.{l}.{ours}.weight"], sd[f"blocks.{l}.{ours}.bias"]
            out[f"h.{l}.{theirs}.weight"] = w if ours.startswith("ln") else w.T.contiguous()
            out[f"h.{l}.{theirs}.bias"] = b
    out["ln_f.weight"], out["ln_f.bias"] = sd["ln_f.weight"], sd["ln_f.bias"]
    return out


# ---------------------------------------------------------------- safetensors


def write_safetensors(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        data = tensors[name].to(torch.float16).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F16", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(tmp, path)


def read_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, d in header.items():
        if name == "__metadata__":
            continue
        a, b = d["data_offsets"]
        assert d["dtype"] == "F16"
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f2").reshape(d["shape"])
        out[name] = torch.from_numpy(arr.astype("float64"))
    return out


# ---------------------------------------------------------------- reference forward (goldens)


def ref_logits(w, cfg, ids, dtype):
    """All positions' logits, written from the GPT-2 equations (no nn.Module),
    from the weights read back from model.safetensors."""
    W = {k: v.to(dtype) for k, v in w.items()}
    c, nh = cfg["n_embd"], cfg["n_head"]
    hd, t = c // nh, len(ids)

    def ln(x, g, b):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + cfg["layer_norm_epsilon"]) * g + b

    x = W["wte.weight"][ids] + W["wpe.weight"][:t]
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    for l in range(cfg["n_layer"]):
        p = f"h.{l}."
        h = ln(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"])
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = (qkv[:, i * c:(i + 1) * c].reshape(t, nh, hd).permute(1, 0, 2) for i in range(3))
        s = (q @ k.transpose(1, 2)) / math.sqrt(hd)
        s = s.masked_fill(~causal, float("-inf"))
        a = torch.softmax(s, dim=-1) @ v
        a = a.permute(1, 0, 2).reshape(t, c)
        x = x + a @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        h = ln(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"])
        g = h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"]
        g = 0.5 * g * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (g + 0.044715 * g * g * g)))
        x = x + g @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = ln(x, W["ln_f.weight"], W["ln_f.bias"])
    return x @ W["wte.weight"].T


def greedy(w, cfg, ids, n, dtype):
    ids, margins = list(ids), []
    for _ in range(n):
        last = ref_logits(w, cfg, torch.tensor(ids), dtype)[-1]
        top2 = torch.topk(last, 2)
        ids.append(int(torch.argmax(last)))  # ties: lowest id (torch returns the first maximum)
        margins.append(float(top2.values[0] - top2.values[1]))
    return ids, margins


# ---------------------------------------------------------------- main


def train(args, cfg, train_ids):
    torch.manual_seed(args.seed)
    model = GPT(cfg)
    data = torch.tensor(train_ids)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    T, B = args.seq, args.batch
    t0 = time.time()
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / 50)
        lr = 0.1 * args.lr + (lr - 0.1 * args.lr) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        ix = torch.randint(0, len(data) - T - 1, (B,))
        x = torch.stack([data[i:i + T] for i in ix])
        y = torch.stack([data[i + 1:i + T + 1] for i in ix])
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, cfg["vocab_size"]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.3f}  lr {lr:.2e}  {time.time() - t0:.0f} s", flush=True)
    model.eval()
    return model, time.time() - t0


def mean_nll(w, cfg, ids, window, dtype):
    sums = []
    for s in range(0, len(ids), window):
        chunk = torch.tensor(ids[s:s + window])
        lp = torch.log_softmax(ref_logits(w, cfg, chunk, dtype), dim=-1)
        sums.append(float(-lp[torch.arange(len(chunk) - 1), chunk[1:]].sum()))
    return sums


PROMPTS = [
    ("romeo", "ROMEO:"),
    ("first_citizen", "First Citizen:\nBefore we proceed any further, hear me speak."),
    ("unicode", "Caf\u00e9 na\u00efve \u201cquoted\u201d \u2014 \u00c6sir \u00fcber \u03bb\u03cc\u03b3\u03bf\u03c2"),
    ("digits_punct_ws", "  In 1599, 12 men spent 3.5 pounds!!  (Why?)\t\n  "),
    ("newline", "\n"),
]


def prompt_entry(tok, w, cfg, name, text, outdir, n_new, extra=None):
    ids = tok.encode(text)
    l32 = ref_logits(w, cfg, torch.tensor(ids), torch.float32)
    l64 = ref_logits(w, cfg, torch.tensor(ids), torch.float64)
    last = l32[-1].contiguous()
    raw = last.numpy().astype("<f4").tobytes()
    fname = f"{name}.last_logits.f32"
    with open(os.path.join(outdir, fname), "wb") as f:
        f.write(raw)
    top = torch.topk(last, 5)
    lse = float(torch.logsumexp(last.double(), 0))
    g32, margins = greedy(w, cfg, ids, n_new, torch.float32)
    g64, _ = greedy(w, cfg, ids, n_new, torch.float64)
    e = {
        "name": name, "text": text, "ids": ids, "n_tokens": len(ids),
        "last_logits_file": fname,
        "last_logits_format": f"{cfg['vocab_size']} x float32 little-endian, logits at the last prompt position",
        "last_logits_sha256": hashlib.sha256(raw).hexdigest(),
        "last_logits_logsumexp": lse,
        "last_logits_f32_vs_f64_max_abs_diff": float((l32[-1].double() - l64[-1]).abs().max()),
        "all_positions_f32_vs_f64_max_abs_diff": float((l32.double() - l64).abs().max()),
        "top5_ids": [int(i) for i in top.indices],
        "top5_logits": [float(v) for v in top.values],
        "argmax_per_position": [int(i) for i in l32.argmax(-1)],
        "greedy": {
            "n_new_tokens": n_new,
            "method": "argmax (ties -> lowest id) of the last position, a full forward pass over the whole sequence "
                      "at every step (no KV cache), no stop at <|endoftext|>, float32",
            "ids": g32[len(ids):], "text": tok.decode(g32[len(ids):]),
            "top1_minus_top2_margins": margins, "min_margin": min(margins),
            "float64_model_gives_same_ids": g32 == g64,
        },
    }
    if extra:
        e.update(extra)
    return e


def tokenizer_cases(tok):
    src = json.load(open(os.path.join(ROOT, "tests/fixtures/tokenizer_cases.json"), encoding="utf-8"))
    texts = [c["text"] for c in src["cases"]]
    texts += ["ROMEO:\nO, she doth teach the torches to burn bright!", "KING RICHARD III:\nNow is the winter",
              "Thou art 'twixt thee and me, thou'rt mine.", "<|endoftext|>"]
    cases, dropped = [], 0
    for t in texts:
        try:
            t.encode("utf-8")
        except UnicodeEncodeError:
            dropped += 1  # a lone surrogate: not text
            continue
        if any(unicodedata.category(ch) == "Cn" for ch in t):
            dropped += 1  # not in this Python's Unicode tables
            continue
        ids = tok.encode(t)
        cases.append({"text": t, "ids": ids, "tokens": tok.tokens(ids)})
    return cases, dropped


def write_json(path, obj):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)


def train_all(args, train_txt):
    """BPE vocabulary, then the model; writes vocab.json, merges.txt,
    model.safetensors and config.json.  Returns the tokenizer and config."""
    t0 = time.time()
    vocab, merges = train_bpe(train_txt, args.merges)
    tok = Tokenizer(vocab, merges)
    print(f"BPE: {len(merges)} merges, vocab {len(vocab)}, {time.time() - t0:.0f} s", flush=True)
    write_json(os.path.join(args.out, "vocab.json"), vocab)
    with open(os.path.join(args.out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    cfg = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
           "vocab_size": len(vocab), "n_positions": 256, "n_ctx": 256, "n_embd": 128, "n_layer": 4, "n_head": 4,
           "n_inner": 512, "layer_norm_epsilon": 1e-5, "bos_token_id": len(vocab) - 1,
           "eos_token_id": len(vocab) - 1, "tie_word_embeddings": True, "torch_dtype": "float16"}
    train_ids = tok.encode(train_txt)
    print(f"train.txt {len(train_ids)} tokens", flush=True)
    model, train_s = train(args, cfg, train_ids)
    write_safetensors(os.path.join(args.out, "model.safetensors"), hf_tensors(model, cfg))
    write_json(os.path.join(args.out, "config.json"), cfg)
    print(json.dumps({"train_seconds": round(train_s), "steps": args.steps, "batch": args.batch, "seq": args.seq,
                      "params": sum(p.numel() for p in model.parameters())}), flush=True)
    return tok, cfg


def load_trained(out):
    """The tokenizer and config of an already trained model folder."""
    vocab = json.load(open(os.path.join(out, "vocab.json"), encoding="utf-8"))
    lines = open(os.path.join(out, "merges.txt"), encoding="utf-8").read().split("\n")[1:]
    merges = [tuple(l.split(" ")) for l in lines if l]
    return Tokenizer(vocab, merges), json.load(open(os.path.join(out, "config.json")))


def write_goldens(tok, cfg, w, out, valid_raw):
    gold = os.path.join(out, "golden")
    os.makedirs(gold, exist_ok=True)
    valid_txt = valid_raw.decode("utf-8")
    valid_ids = tok.encode(valid_txt)
    n_nll, window = 4096, 128
    sums32 = mean_nll(w, cfg, valid_ids[:n_nll], window, torch.float32)
    sums64 = mean_nll(w, cfg, valid_ids[:n_nll], window, torch.float64)
    n_pred = (n_nll // window) * (window - 1)
    nll = sum(sums32) / n_pred
    write_json(os.path.join(gold, "nll.json"), {
        "definition": f"Take the token ids of the whole file valid.txt (tokenized as one string), keep ids[0:{n_nll}]. "
                      f"Split them into {n_nll // window} non-overlapping chunks of {window} tokens. Run each chunk "
                      f"independently (positions 0..{window - 1}). In each chunk, for j = 0..{window - 2}, take "
                      f"-log softmax(logits at position j)[token j+1] (natural log). The golden is the mean over all "
                      f"{n_pred} predictions.",
        "valid_txt_sha256": hashlib.sha256(valid_raw).hexdigest(),
        "n_tokens": n_nll, "window": window, "n_predictions": n_pred,
        "mean_nll_nats": nll, "perplexity": math.exp(nll),
        "mean_nll_nats_float64_model": sum(sums64) / n_pred,
        "chunk_nll_sums": sums32, "token_ids": valid_ids[:n_nll]})
    print(f"valid NLL over {n_nll} tokens: {nll:.4f} (ppl {math.exp(nll):.2f})", flush=True)
    # a prompt cut from valid.txt: 160 tokens from the start of a speech
    at = valid_txt.index("\n\n", 2000) + 2
    long_ids = tok.encode(valid_txt[at:])[:160]
    long_text = tok.decode(long_ids)
    prompts = [prompt_entry(tok, w, cfg, n, t, gold, 32) for n, t in PROMPTS]
    prompts.append(prompt_entry(tok, w, cfg, "long_valid", long_text, gold, 32,
                                {"origin": f"the first 160 tokens of valid.txt from character {at}"}))
    write_json(os.path.join(gold, "prompts.json"), {
        "model": "../ (the mini-shakespeare folder)", "dtype": "float32 arithmetic on the F16 weights",
        "reference": "scripts/train_reference_model.py: ref_logits, a functional GPT-2 forward pass",
        "prompts": prompts})
    cases, dropped = tokenizer_cases(tok)
    write_json(os.path.join(gold, "tokenizer_cases.json"), {
        "tokenizer": "byte-level BPE of vocab.json + merges.txt; plain text: '<|endoftext|>' is not special",
        "source": "the texts of tests/fixtures/tokenizer_cases.json (except those with code points this "
                  f"Python's Unicode tables do not know: {dropped} left out) and a few more, encoded by "
                  "scripts/train_reference_model.py",
        "cases": cases})


def write_calibration(tok, cfg, w, out):
    """calib.txt: 2000 tokens sampled from the model (the reference forward
    pass on the shipped weights, temperature 0.9, seed 7, a 64-token window)."""
    g = torch.Generator().manual_seed(7)
    ids = tok.encode("\n")
    while len(ids) < 2000:
        last = ref_logits(w, cfg, torch.tensor(ids[-64:]), torch.float32)[-1] / 0.9
        ids.append(int(torch.multinomial(torch.softmax(last, -1), 1, generator=g)))
    with open(os.path.join(out, "calib.txt"), "w", encoding="utf-8") as f:
        f.write(tok.decode(ids))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(ROOT, "../shared/data/tinyshakespeare"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests/models/mini-shakespeare"))
    ap.add_argument("--goldens-only", action="store_true", help="keep the trained model, recompute the rest")
    ap.add_argument("--merges", type=int, default=768)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)  # OpenMP threads spin: 1 is faster on a shared machine
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    valid_raw = open(os.path.join(args.data, "valid.txt"), "rb").read()
    os.makedirs(args.out, exist_ok=True)
    if args.goldens_only:
        tok, cfg = load_trained(args.out)
    else:
        tok, cfg = train_all(args, open(os.path.join(args.data, "train.txt"), encoding="utf-8").read())
    w = read_safetensors(os.path.join(args.out, "model.safetensors"))  # exactly the shipped (F16) weights
    write_goldens(tok, cfg, w, args.out, valid_raw)
    write_calibration(tok, cfg, w, args.out)


if __name__ == "__main__":
    main()
