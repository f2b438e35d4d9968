"""Can the caption path learn on its own? (issue 27 diagnosis.) The caption encoder of the diffusion models
(:class:`genlab.nn.text_encoder.CaptionEncoder`, its default size) with a two-layer head on its pooled embedding,
trained alone to regress the standardised ``shapes`` image from its caption (batch 32, Adam lr 2e-3, the loss of
:mod:`genlab.training.caption_pretrain`); every ``--every`` steps the head's images for 200 fresh seen and 200
held-out prompts are judged (joint and per-attribute accuracy on seen prompts).

    python benchmarks/caption_path_probe.py --seconds 90 > benchmarks/results/caption_path_probe.txt
"""

import argparse
import time

import torch
from torch import nn

import genlab
from genlab.apps.captions import prompts
from genlab.metrics.attributes import attribute_accuracy
from genlab.nn.text_encoder import TEXT_DEFAULTS, CaptionEncoder, caption_ids

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--seconds", type=float, default=90.0)
ap.add_argument("--every", type=int, default=500)
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
ds = genlab.datasets.load("shapes", n_train=20000, seed=0)
tok = ds.label_encoder
X = ds.train.reshape(len(ds.train), -1)
mu, sd = X.mean(0), X.std(0).clamp_min(1e-3)
Y = caption_ids(tok, ds.labels_train)
enc = CaptionEncoder(tok.vocab_size, **{k: TEXT_DEFAULTS[k] for k in ("dim", "depth", "heads")})
head = nn.Sequential(nn.Linear(enc.dim, 256), nn.SiLU(), nn.Linear(256, X.shape[1]))
opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=2e-3)
(seen, a_seen), (held, a_held) = prompts(200, False, 0), prompts(200, True, 0)
g = torch.Generator().manual_seed(0)
print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; python benchmarks/caption_path_probe.py "
      f"--seconds {args.seconds:g} --every {args.every} --threads {args.threads}")
print("# seconds, step, loss, joint seen, joint held-out, per-attribute accuracy on seen prompts")
t0, step = time.perf_counter(), 0
while time.perf_counter() - t0 < args.seconds:
    idx = torch.randint(len(X), (32,), generator=g)
    loss = (head(enc(Y[idx]).pooled) - (X[idx] - mu) / sd).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    step += 1
    if step % args.every == 0:
        with torch.no_grad():
            images = [(head(enc(caption_ids(tok, c)).pooled) * sd + mu).reshape(-1, *ds.shape).clamp(0, 1)
                      for c in (seen, held)]
        a, b = attribute_accuracy(images[0], a_seen), attribute_accuracy(images[1], a_held)
        print(f"{time.perf_counter() - t0:.0f} {step} {loss.item():.3f} {a.joint:.3f} {b.joint:.3f}",
              {k: round(v, 3) for k, v in a.per_attribute().items()}, flush=True)
