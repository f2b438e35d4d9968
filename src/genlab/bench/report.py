"""Leaderboard files of a bench run: ranking, ``leaderboard.md``/``.csv``/``.json`` and one self-contained ``report.html``.

Ranking (:func:`rank`): models are sorted by KL(truth || model) when the data set's density is known, else by test
NLL (for discrete data NLL and bits/dim give the same order; for text, by test bits/char, where a bound ranks by its
value and is shown as ``<= value``); models without a likelihood follow, ordered by sliced
Wasserstein; then models whose primary metric is not finite; failed models come last. The first row is marked
best when it succeeded.

JSON is strict (``allow_nan=False``): non-finite numbers are written as ``null`` (the markdown, CSV and HTML show
``inf``/``nan``), and the counts of non-finite values stay in ``*_nonfinite`` fields.

``report.html`` needs nothing outside itself: inline CSS, no scripts, images embedded as base64 ``data:`` URIs.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import html
import json
import math
from pathlib import Path
from typing import Any

__all__ = ["COLUMNS", "one_line", "rank", "to_json", "write_markdown", "write_csv", "write_json", "write_html",
           "write_all",
           "markdown_table"]

# (field, header, shown when) -- "always", "discrete" (data with discrete levels), "density" (known truth), "text"
# (a text data set: bits/char of held-out documents, samples from one prompt) or "values" (any other data)
COLUMNS = [
    ("rank", "rank", "always"),
    ("name", "model", "always"),
    ("likelihood", "likelihood", "always"),
    ("bits_per_char", "test bits/char", "text"),
    ("nll", "test NLL (nats)", "values"),
    ("bits_per_dim", "bits/dim", "discrete"),
    ("kl_to_truth", "KL to truth (nats)", "density"),
    ("sliced_wasserstein", "sliced W1", "values"),
    ("mmd", "MMD²", "values"),
    ("nfe", "NFE/sample", "always"),
    ("fit_time_s", "fit s", "always"),
    ("sample_time_s", "sample s", "always"),
    ("log_prob_time_s", "log_prob s", "always"),
    ("status", "status", "always"),
]
DASH = "–"
RANKED_BY = {"kl_to_truth": "KL to truth", "nll": "test NLL", "bits_per_char": "test bits/char (a bound as its value)"}


def one_line(stage: str, exc: BaseException) -> str:
    """A failed row's reason: ``"stage: ExceptionType: first line of the message"`` (at most 300 characters)."""
    msg = (str(exc).strip().splitlines() or [""])[0]
    return f"{stage}: {type(exc).__name__}" + (f": {msg[:300]}" if msg else "")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def rank(results: list, by: str) -> list:
    """Sort ``results`` (ModelResult-like) in place order described in the module docstring; set ``rank``/``best``."""

    def key(r):
        sw = r.sliced_wasserstein if _finite(r.sliced_wasserstein) else math.inf
        if r.status != "ok":
            return (3, 0.0, r.name)
        v = getattr(r, by, None)
        if r.likelihood == "none" or (v is None and r.nll is None):
            return (1, sw, r.name)
        if v is None:  # e.g. a likelihood model where KL could not be computed: fall back to NLL's group
            v = r.nll
        return (0, float(v), r.name) if _finite(v) else (2, sw, r.name)

    ordered = sorted(results, key=key)
    for i, r in enumerate(ordered, start=1):
        r.rank = i
        r.best = i == 1 and r.status == "ok"
    return ordered


def _columns(settings: dict) -> list[tuple[str, str]]:
    text = settings.get("kind") == "text"
    show = {"always": True, "discrete": settings.get("discrete_levels") is not None,
            "density": bool(settings.get("has_density")), "text": text, "values": not text}
    return [(f, h) for f, h, when in COLUMNS if show[when]]


def _num(v, digits: int = 4) -> str:
    if v is None:
        return DASH
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.{digits}g}"
    return str(v)


def _cell(r, field: str) -> str:
    if field == "name":
        return f"{r.name} ★" if r.best else r.name
    if field == "kl_to_truth" and r.kl_to_truth is not None and _finite(r.kl_stderr):
        return f"{_num(r.kl_to_truth)} ± {_num(r.kl_stderr, 2)}"
    if field in ("fit_time_s", "sample_time_s", "log_prob_time_s"):
        v = getattr(r, field)
        return DASH if v is None else f"{v:.2f}"
    if field == "bits_per_char" and r.likelihood == "bound" and r.bits_per_char is not None:
        return f"≤ {_num(r.bits_per_char)}"
    if field == "status":
        return "ok" if r.status == "ok" else f"failed: {r.error}"
    if field == "likelihood":
        return r.likelihood or DASH
    return _num(getattr(r, field))


def markdown_table(result) -> str:
    """The leaderboard as a GitHub-flavoured markdown table."""
    cols = _columns(result.settings)
    lines = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in result.results:
        lines.append("| " + " | ".join(_cell(r, f).replace("|", "\\|") for f, _ in cols) + " |")
    return "\n".join(lines)


def _clean(v):
    """JSON-safe copy: non-finite floats -> None, Paths -> str."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    return v


def to_json(result) -> dict[str, Any]:
    """The whole run as a JSON-safe dict: ``settings``, ``results`` (leaderboard order), ``best``, ``files``."""
    return _clean({
        "settings": result.settings,
        "results": [dataclasses.asdict(r) for r in result.results],
        "best": result.best.name if result.best else None,
        "files": {k: Path(p).name if k != "plots" else p for k, p in result.files.items()},
    })


def write_markdown(result, path: Path) -> Path:
    s = result.settings
    lines = [f"# genlab bench: {s['data']}", "",
             f"Time budget {s['time_budget']} s per model, seed {s['seed']}, genlab {s['genlab_version']}, {s['date']}.",
             f"Ranked by {RANKED_BY.get(s['ranked_by'], s['ranked_by'])} (lower is better); ★ marks the best. NFE: network evaluations per sample ({DASH}: not reported).",
             "", markdown_table(result), ""]
    notes = [f"- **{r.name}**: {n}" for r in result.results for n in r.notes]
    if notes:
        lines += ["## Notes", "", *notes, ""]
    if s.get("text"):
        lines += ["## Samples from one prompt", "", _prompt_line(s["text"]), ""]
        lines += [f"**{r.name}**, sample {i}:\n\n~~~~text\n{t}\n~~~~\n" for r in result.results
                  for i, t in enumerate(r.samples or [], 1)]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


CSV_FIELDS = ["rank", "name", "status", "likelihood", "bits_per_char", "nll", "nll_nonfinite", "bits_per_dim", "kl_to_truth",
              "kl_stderr", "sliced_wasserstein", "mmd", "nfe", "fit_time_s", "train_steps", "sample_time_s",
              "log_prob_time_s", "n_test", "n_samples", "best", "error"]


def write_csv(result, path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_FIELDS)
        for r in result.results:
            w.writerow(["" if getattr(r, k) is None else getattr(r, k) for k in CSV_FIELDS])
    return path


def write_json(result, path: Path) -> Path:
    path.write_text(json.dumps(to_json(result), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:1.5em;margin:0 0 4px}h2{font-size:1.15em;margin:28px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
p.sub{color:#5a6577;margin:0 0 16px}
table{border-collapse:collapse;font-size:13px}th,td{padding:5px 9px;border-bottom:1px solid #e4e8ef;text-align:right}
th{background:#eef2f8;position:sticky;top:0}td.l,th.l{text-align:left}
tr.best td{background:#e6f6e6;font-weight:600}tr.failed td{color:#a33;background:#fdf1f1}
table.settings td{text-align:left}table.settings td:first-child{color:#5a6577}
.grid{display:flex;flex-wrap:wrap;gap:14px}.grid figure{margin:0;border:1px solid #e4e8ef;padding:6px;background:#fafbfd}
figure img{display:block;max-width:100%;height:auto}figcaption{font-size:12px;color:#5a6577;text-align:center}
ul.notes{font-size:13px}h3{font-size:1em;margin:14px 0 4px}
pre.sample{white-space:pre-wrap;font-size:12px;background:#fafbfd;border:1px solid #e4e8ef;padding:6px;max-width:900px}
"""


def _img(path: Path, alt: str, width: int | None = None) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    w = f' style="width:{width}px"' if width else ""
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"{w}>'


def _figure(path: Path, caption: str, width: int | None = None) -> str:
    return f"<figure>{_img(path, caption, width)}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _prompt_line(text: dict) -> str:
    return (f"Prompt {text['prompt']!r}, {text['n_samples']} samples of {text['max_new_tokens']} new tokens per "
            f"model, seed {text['seed']} ({text['tokenizer']} tokenizer, {text['vocab_size']} tokens).")


def _text_samples(result) -> list[str]:
    """The HTML of the text section: each model's continuations of the one prompt, the prompt in bold."""
    text, e = result.settings.get("text"), html.escape
    if not text:
        return []
    n = len(text["prompt"])
    blocks = [f"<h3>{e(r.name)} ({e(r.likelihood or DASH)})</h3>" + "".join(
        f'<pre class="sample"><b>{e(t[:n])}</b>{e(t[n:])}</pre>' for t in r.samples)
        for r in result.results if r.samples]
    return ["<h2>Samples from one prompt (text)</h2>", f'<p class="sub">{e(_prompt_line(text))}</p>', *blocks]


def write_html(result, path: Path) -> Path:
    """One self-contained page: settings, the leaderboard ``<table id="leaderboard">``, notes and every plot."""
    s, e = result.settings, html.escape
    cols = _columns(s)
    head = "".join(f'<th class="{"l" if f in ("name", "likelihood", "status") else ""}">{e(h)}</th>' for f, h in cols)
    rows = []
    for r in result.results:
        cls = "best" if r.best else ("failed" if r.status != "ok" else "")
        cells = "".join(f'<td class="{"l" if f in ("name", "likelihood", "status") else ""}">{e(_cell(r, f))}</td>'
                        for f, _ in cols)
        rows.append(f'<tr class="{cls}">{cells}</tr>')
    settings_rows = "".join(f"<tr><td>{e(str(k))}</td><td>{e(json.dumps(_clean(v)) if isinstance(v, (dict, list)) else str(v))}</td></tr>"
                            for k, v in s.items())
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>genlab bench: {e(str(s['data']))}</title><style>{_CSS}</style></head><body>",
        f"<h1>genlab bench: {e(str(s['data']))}</h1>",
        f'<p class="sub">{len(result.results)} models, {e(str(s["time_budget"]))} s training budget each, seed '
        f'{e(str(s["seed"]))}; ranked by {e(RANKED_BY.get(s["ranked_by"], s["ranked_by"]))} (lower is better); ★ marks the best.</p>',
        "<h2>Leaderboard</h2>", f'<table id="leaderboard"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>',
    ]
    notes = [f"<li><b>{e(r.name)}</b>: {e(n)}</li>" for r in result.results for n in r.notes]
    if notes:
        parts += ["<h2>Notes</h2>", f'<ul class="notes">{"".join(notes)}</ul>']
    parts += _text_samples(result)
    plots = result.files.get("plots", {})
    sections = [("samples", "Samples", 300), ("density", "Density: model beside truth", 420),
                ("images", "Sample grids", 260), ("prompts", "Prompts x samples (captioned runs)", 520),
                ("nfe", "Quality against network evaluations", 560)]
    out_dir = Path(result.out_dir)
    for kind, title, width in sections:
        figs = [_figure(out_dir / rel, cap, width) for cap, rel in plots.get(kind, [])]
        if figs:
            parts += [f"<h2>{e(title)}</h2>", f'<div class="grid">{"".join(figs)}</div>']
    parts += ["<h2>Settings</h2>", f'<table class="settings">{settings_rows}</table>', "</body></html>"]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def write_all(result) -> dict[str, Path]:
    """Write the four leaderboard files into ``result.out_dir``; return their paths by kind."""
    out = Path(result.out_dir)
    files = {"leaderboard_md": out / "leaderboard.md", "leaderboard_csv": out / "leaderboard.csv",
             "leaderboard_json": out / "leaderboard.json", "report_html": out / "report.html"}
    result.files.update(files)
    write_markdown(result, files["leaderboard_md"])
    write_csv(result, files["leaderboard_csv"])
    write_json(result, files["leaderboard_json"])
    write_html(result, files["report_html"])
    return files
