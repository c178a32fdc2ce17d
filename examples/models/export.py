#!/usr/bin/env python3
"""Writes a model train.py trained as a GGUF file llama.cpp and arx both load, and its report.

  python3 export.py --work WORK --name kjv-target
reads WORK/NAME.pt and WORK/tokenizer.model, writes NAME.gguf (architecture `llama`, F32
tensors, the SentencePiece vocabulary as tokenizer.ggml.* metadata) and NAME.report beside this
script. The report holds the held-out perplexity computed here in PyTorch on the written weights
with llama-perplexity's convention (-c 256); tests/models checks arx's against it.
The GGUF writer below is the format as published (version 3): header, key/value pairs, tensor
infos, then the tensor data, each tensor aligned to 32 bytes.
"""
import argparse
import os
import struct

import sentencepiece as spm
import torch

from model import Config, Llama, perplexity

HERE = os.path.dirname(os.path.abspath(__file__))
ALIGN = 32
# GGUF value types
U32, I32, F32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9


def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_value(vtype, v):
    if vtype == U32:
        return struct.pack("<I", v)
    if vtype == I32:
        return struct.pack("<i", v)
    if vtype == F32:
        return struct.pack("<f", v)
    if vtype == BOOL:
        return struct.pack("<B", 1 if v else 0)
    if vtype == STRING:
        return gguf_string(v)
    raise ValueError(vtype)


def write_gguf(path, kvs, tensors):
    """kvs: [(key, type, value)] with value a list for ARRAY as (elem_type, [..]);
    tensors: [(name, float32 torch tensor)], written as F32 with dims reversed (ne0 innermost)."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for key, vtype, v in kvs:
        out += gguf_string(key) + struct.pack("<I", vtype)
        if vtype == ARRAY:
            etype, items = v
            out += struct.pack("<IQ", etype, len(items))
            for it in items:
                out += gguf_value(etype, it)
        else:
            out += gguf_value(vtype, v)
    offset, blobs = 0, []
    for name, t in tensors:
        dims = list(reversed(t.shape))
        out += gguf_string(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", 0, offset)  # type 0 = F32
        blob = t.numpy().astype("<f4").tobytes()
        blobs.append(blob)
        offset += (len(blob) + ALIGN - 1) // ALIGN * ALIGN
    out += b"\0" * (-len(out) % ALIGN)
    for blob in blobs:
        out += blob + b"\0" * (-len(blob) % ALIGN)
    with open(path, "wb") as f:
        f.write(out)


def vocab_kvs(sp):
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        # llama.cpp's token types: 1 normal, 2 unknown, 3 control, 6 byte
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else
                     6 if sp.is_byte(i) else 1)
    return [("tokenizer.ggml.model", STRING, "llama"),
            ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
            ("tokenizer.ggml.scores", ARRAY, (F32, scores)),
            ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
            ("tokenizer.ggml.bos_token_id", U32, sp.bos_id()),
            ("tokenizer.ggml.eos_token_id", U32, sp.eos_id()),
            ("tokenizer.ggml.unknown_token_id", U32, sp.unk_id()),
            ("tokenizer.ggml.add_bos_token", BOOL, True),
            ("tokenizer.ggml.add_eos_token", BOOL, False)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--ctx-eval", type=int, default=256, help="n_ctx of the held-out perplexity")
    args = ap.parse_args()
    torch.set_num_threads(2)

    ck = torch.load(os.path.join(args.work, args.name + ".pt"))
    c = Config(**ck["config"])
    model = Llama(c)
    model.load_state_dict(ck["state"])
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.work, "tokenizer.model"))
    hd = c.dim // c.n_heads
    kvs = [("general.architecture", STRING, "llama"),
           ("general.name", STRING, args.name),
           ("general.license", STRING, "MIT"),
           ("general.file_type", U32, 0),
           ("llama.context_length", U32, c.ctx),
           ("llama.embedding_length", U32, c.dim),
           ("llama.block_count", U32, c.n_layers),
           ("llama.feed_forward_length", U32, c.ffn),
           ("llama.rope.dimension_count", U32, hd),
           ("llama.rope.freq_base", F32, c.rope_base),
           ("llama.attention.head_count", U32, c.n_heads),
           ("llama.attention.head_count_kv", U32, c.n_kv_heads),
           ("llama.attention.layer_norm_rms_epsilon", F32, c.eps),
           ("llama.vocab_size", U32, c.vocab)] + vocab_kvs(sp)
    gguf = os.path.join(HERE, args.name + ".gguf")
    write_gguf(gguf, kvs, model.gguf_tensors())

    held = [sp.bos_id()] + sp.encode(open(os.path.join(HERE, "heldout.txt")).read())
    ppl, n_chunks = perplexity(model, held, args.ctx_eval, sp.bos_id())
    n_params = sum(p.numel() for p in model.parameters())
    a = ck["args"]
    report = {
        "model": args.name, "parameters": n_params, "dim": c.dim, "layers": c.n_layers,
        "heads": c.n_heads, "kv_heads": c.n_kv_heads, "ffn": c.ffn, "vocab": c.vocab,
        "ctx": c.ctx, "steps": a["steps"], "batch": a["batch"], "lr": a["lr"],
        "train_seconds": round(ck["train_seconds"]), "final_train_loss": round(ck["final_loss"], 4),
        "heldout_tokens": len(held), "heldout_n_ctx": args.ctx_eval, "heldout_chunks": n_chunks,
        "heldout_ppl": round(ppl, 4), "heldout_first_ids": " ".join(map(str, held[:64]))}
    with open(os.path.join(HERE, args.name + ".report"), "w") as f:
        f.write("# written by export.py; tests/models compares arx with these values\n")
        f.writelines(f"{k} = {v}\n" for k, v in report.items())
    print(f"wrote {gguf} ({os.path.getsize(gguf)} bytes); held-out perplexity {ppl:.4f} "
          f"over {n_chunks} chunks of {args.ctx_eval}")


if __name__ == "__main__":
    main()
