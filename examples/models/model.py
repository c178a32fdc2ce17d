"""The Llama-architecture decoder the demo models are trained as, in plain PyTorch.

It computes what llama.cpp's and arx's `llama` forward computes, so the trained tensors are
written to GGUF unchanged: RMSNorm (eps 1e-5), grouped-query attention, RoPE over adjacent
pairs (x[2i], x[2i+1]) with base 10000 (llama.cpp's "normal" RoPE, no q/k permutation needed),
SwiGLU MLP, untied output matrix. nn.Linear stores weights as (out, in), which is GGUF's
row-major layout with ne0 = in.
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab: int = 2048
    dim: int = 256
    n_layers: int = 6
    n_heads: int = 8
    n_kv_heads: int = 4
    ffn: int = 768
    ctx: int = 256
    eps: float = 1e-5
    rope_base: float = 10000.0

    def to_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):  # x: (..., dim)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, ctx, base):
    """cos, sin: (ctx, head_dim / 2); pair i turns by pos * base^(-2i / head_dim)."""
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ang = torch.arange(ctx, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    """x: (B, H, T, head_dim) with pairs (x[2i], x[2i+1]); cos, sin: (T, head_dim / 2)."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    r0 = x0 * cos - x1 * sin
    r1 = x0 * sin + x1 * cos
    return torch.stack((r0, r1), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        hd = c.dim // c.n_heads
        self.c, self.hd = c, hd
        self.attn_norm = RMSNorm(c.dim, c.eps)
        self.wq = nn.Linear(c.dim, c.n_heads * hd, bias=False)
        self.wk = nn.Linear(c.dim, c.n_kv_heads * hd, bias=False)
        self.wv = nn.Linear(c.dim, c.n_kv_heads * hd, bias=False)
        self.wo = nn.Linear(c.n_heads * hd, c.dim, bias=False)
        self.ffn_norm = RMSNorm(c.dim, c.eps)
        self.w_gate = nn.Linear(c.dim, c.ffn, bias=False)
        self.w_up = nn.Linear(c.dim, c.ffn, bias=False)
        self.w_down = nn.Linear(c.ffn, c.dim, bias=False)

    def forward(self, x, cos, sin, mask):  # x: (B, T, dim)
        c, hd = self.c, self.hd
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, c.n_heads, hd).transpose(1, 2)     # (B, H, T, hd)
        k = self.wk(h).view(B, T, c.n_kv_heads, hd).transpose(1, 2)  # (B, Hkv, T, hd)
        v = self.wv(h).view(B, T, c.n_kv_heads, hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        rep = c.n_heads // c.n_kv_heads
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask  # (B, H, T, T)
        o = F.softmax(att, dim=-1) @ v                           # (B, H, T, hd)
        x = x + self.wo(o.transpose(1, 2).reshape(B, T, c.n_heads * hd))
        h = self.ffn_norm(x)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


class Llama(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c.vocab, c.dim)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.norm = RMSNorm(c.dim, c.eps)
        self.output = nn.Linear(c.dim, c.vocab, bias=False)
        cos, sin = rope_tables(c.dim // c.n_heads, c.ctx, c.rope_base)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                residual_out = name.endswith(("wo.weight", "w_down.weight"))
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * c.n_layers) if residual_out else 0.02)

    def forward(self, tokens):  # tokens: (B, T) -> logits (B, T, vocab)
        T = tokens.shape[1]
        mask = torch.full((T, T), float("-inf"), device=tokens.device).triu(1)
        x = self.embed(tokens)
        for b in self.blocks:
            x = b(x, self.cos[:T], self.sin[:T], mask)
        return self.output(self.norm(x))

    def gguf_tensors(self):
        """(GGUF name, float32 tensor) in llama.cpp's naming."""
        out = [("token_embd.weight", self.embed.weight)]
        for i, b in enumerate(self.blocks):
            p = f"blk.{i}."
            out += [(p + "attn_norm.weight", b.attn_norm.weight),
                    (p + "attn_q.weight", b.wq.weight),
                    (p + "attn_k.weight", b.wk.weight), (p + "attn_v.weight", b.wv.weight),
                    (p + "attn_output.weight", b.wo.weight),
                    (p + "ffn_norm.weight", b.ffn_norm.weight),
                    (p + "ffn_gate.weight", b.w_gate.weight), (p + "ffn_up.weight", b.w_up.weight),
                    (p + "ffn_down.weight", b.w_down.weight)]
        out += [("output_norm.weight", self.norm.weight), ("output.weight", self.output.weight)]
        return [(n, t.detach().float().contiguous()) for n, t in out]


def perplexity(model, tokens, n_ctx, bos):
    """llama-perplexity's estimate: chunks of n_ctx tokens, the first replaced by BOS, only the
    second half scored (positions i in [n_ctx/2, n_ctx-1) predict token i+1).
    Returns (ppl, n_chunks)."""
    n_chunks = len(tokens) // n_ctx
    nll, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for c in range(n_chunks):
            chunk = torch.tensor(tokens[c * n_ctx:(c + 1) * n_ctx])
            chunk[0] = bos
            logp = F.log_softmax(model(chunk[None]).double()[0], dim=-1)  # (n_ctx, vocab)
            first = n_ctx // 2
            idx = torch.arange(first, n_ctx - 1)
            nll -= logp[idx, chunk[idx + 1]].sum().item()
            count += len(idx)
    return math.exp(nll / count), n_chunks
