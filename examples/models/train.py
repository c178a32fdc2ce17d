#!/usr/bin/env python3
"""Trains one of arx's demo models on the corpus prepare.py wrote (see README.md here).

  python3 train.py --work WORK --name kjv-target --dim 256 --layers 6 --heads 8 --kv-heads 4 \
      --ffn 768 --steps 1500
writes WORK/NAME.pt (config + weights) and prints the loss as it goes. Every window is BOS
followed by ctx - 1 tokens taken at a random place in the token stream of train.txt — the same
shape as a llama-perplexity chunk and as a prompt after BOS.
"""
import argparse
import math
import os
import time

import sentencepiece as spm
import torch
import torch.nn.functional as F

from model import Config, Llama, perplexity

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=768)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32, help="windows per step")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.work, "tokenizer.model"))
    stream = torch.tensor(sp.encode(open(os.path.join(args.work, "train.txt")).read()))
    held = sp.encode(open(os.path.join(HERE, "heldout.txt")).read())
    held = [sp.bos_id()] + held  # as llama-perplexity tokenizes a file: BOS first

    c = Config(vocab=sp.get_piece_size(), dim=args.dim, n_layers=args.layers, n_heads=args.heads,
               n_kv_heads=args.kv_heads, ffn=args.ffn, ctx=args.ctx)
    model = Llama(c)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.name}: {n_params / 1e6:.2f}M parameters, {len(stream)} training tokens, "
          f"{args.steps} steps of {args.batch} x {args.ctx} tokens "
          f"({args.steps * args.batch * args.ctx / len(stream):.1f} epochs)", flush=True)

    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(args.seed)
    t0, smooth = time.time(), None
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * \
            (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(stream) - args.ctx, (args.batch,), generator=gen)
        win = torch.stack([stream[s:s + args.ctx] for s in starts.tolist()])   # (B, ctx)
        x = torch.cat([torch.full((args.batch, 1), sp.bos_id()), win[:, :-1]], dim=1)
        model.train()
        loss = F.cross_entropy(model(x).flatten(0, 1), win.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        smooth = loss.item() if smooth is None else 0.98 * smooth + 0.02 * loss.item()
        if step % 50 == 0 or step == args.steps - 1:
            el = time.time() - t0
            tps = (step + 1) * args.batch * args.ctx / el
            print(f"step {step:5d}  loss {smooth:.3f}  lr {lr:.2e}  {el:7.0f} s  {tps:6.0f} tok/s",
                  flush=True)
    train_s = time.time() - t0
    ppl, n = perplexity(model, held, args.ctx, sp.bos_id())
    print(f"{args.name}: trained in {train_s:.0f} s, final training loss {smooth:.3f}, "
          f"held-out perplexity {ppl:.3f} ({n} chunks of {args.ctx})", flush=True)
    torch.save({"config": c.to_dict(), "state": model.state_dict(), "train_seconds": train_s,
                "final_loss": smooth, "args": vars(args)},
               os.path.join(args.work, args.name + ".pt"))


if __name__ == "__main__":
    main()
