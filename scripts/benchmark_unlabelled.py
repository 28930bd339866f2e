#!/usr/bin/env python
"""Learning from unlabelled text on IMDB (issue 22): pretraining, fine-tuning, VAT, ensembles.

No external data: the language model is pretrained on IMDB's 50,000 unlabelled reviews and
the 25,000 training reviews' texts (never the test reviews); every accuracy is on IMDB test
(25,000 reviews). Sections (``--sections``, in this order; each row is saved under ``--work``
and reused by later runs, so the sections can run one at a time):

* ``pretrain``: `sentiment pretrain --dataset imdb` with the budget given (``--max-steps``):
  steps, tokens seen, minutes, held-out perplexity before and after;
* ``scratch``: the default GRU from scratch (`sentiment train`);
* ``finetune``: the same GRU pretrained and fine-tuned (`--pretrained`, `--freeze-epochs`,
  `--discriminative-decay`);
* ``vat``: the fine-tuned GRU with virtual adversarial training on the unlabelled reviews;
* ``ensemble``: the fine-tuned GRU and the 500,000-entry fastText-bigrams model, averaged
  (`sentiment ensemble`, equal weights);
* ``lowresource``: 1,000 and 5,000 labelled training reviews (seeded samples), from scratch
  against pretrained (and pretrained with VAT on the unlabelled reviews), same settings
  otherwise.

Targets: best >= 92.0% within 2 hours of compute in all (pretraining included); one
pretrained recurrent classifier >= 91.0%; with 1,000 labels, pretrained >= 5 points above
from scratch.

    SENTIMENT_DATA_DIR=../shared/data python scripts/benchmark_unlabelled.py --work /tmp/unl
    python scripts/benchmark_unlabelled.py --work /tmp/unl --sections pretrain --max-steps 200

Prints Markdown tables (and JSON with --json PATH).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "SENTIMENT_DATA_DIR" not in os.environ:
    os.environ["SENTIMENT_DATA_DIR"] = str(Path(__file__).resolve().parents[2] / "shared" / "data")

from _common import FINE_TUNING, FINE_TUNING_MODEL, machine_line  # noqa: E402  scripts/_common.py

SECTIONS = ("pretrain", "scratch", "finetune", "vat", "ensemble", "lowresource")
#: The bag-of-n-grams member of the ensemble (docs/benchmarks/models.md).
FASTTEXT = {"arch": "fasttext", "ngrams": 2, "vocab_size": 500000, "min_frequency": 2,
            "embedding_dim": 64, "max_length": 1000}
LOW_RESOURCE = (1000, 5000)


def saved(work: Path, name: str, run) -> dict:
    """The row ``name`` from ``work/name.json``, else ``run()`` (written there)."""
    path = work / f"{name}.json"
    if path.is_file():
        return json.loads(path.read_text())
    started = time.perf_counter()
    row = run()
    row["minutes"] = round((time.perf_counter() - started) / 60, 1)
    path.write_text(json.dumps(row, indent=2) + "\n")
    return row


def pretrain(work: Path, args) -> dict:
    from sentiment.config import LanguageModelConfig, PretrainingConfig
    from sentiment.data import load_unlabelled_dataset
    from sentiment.pretraining import pretrain_language_model

    texts, source = load_unlabelled_dataset("imdb")
    config = LanguageModelConfig(arch=args.arch, units=args.units,
                                 embedding_dim=args.embedding_dim)
    training = PretrainingConfig(max_steps=args.max_steps, epochs=args.pretrain_epochs)
    result = pretrain_language_model(texts, config, training, work / "lm", source=source,
                                     verbose=2)
    run, held_out = result.metrics["training"], result.metrics["held_out"]
    return {"name": f"pretrain {args.arch} {args.units}", "documents": run["documents"],
            "steps": run["steps"], "tokens_seen": run["tokens_seen"],
            "epochs": run["epochs"], "tokens_per_second": run["tokens_per_second"],
            "train_minutes": round(run["seconds"] / 60, 1),
            "perplexity_before": held_out["perplexity_before"],
            "perplexity": held_out["perplexity"], "held_out_tokens": held_out["tokens"]}


def classifier(work: Path, name: str, model: dict, training: dict, limit: int | None = None,
               unlabelled: bool = False) -> dict:
    """Train on IMDB train (a seeded sample of ``limit``), test on IMDB test."""
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.data import load_named_dataset, load_unlabelled_dataset
    from sentiment.training import train_classifier

    splits = load_named_dataset("imdb")
    config, settings = ClassifierConfig(**model), TrainingConfig(**training)
    train = splits.train.sample(limit, settings.seed) if limit else splits.train
    extra = None
    if unlabelled:  # the unlabelled reviews alone (the first 50,000 of the pretraining texts)
        extra = list(load_unlabelled_dataset("imdb")[0][:50000])
    result = train_classifier(train, config, settings, work / name, test=splits.test,
                              label_names=splits.label_names, unlabelled=extra, verbose=2)
    return {"name": name, "train_examples": len(train),
            "test_accuracy": result.metrics["test"]["accuracy"],
            "epochs_run": result.metrics["training"]["epochs_run"],
            "settings": {**model, **training}}


def ensemble(work: Path, members: list[str]) -> dict:
    from sentiment import Predictor
    from sentiment.data import load_named_dataset
    from sentiment.ensemble import build_ensemble
    from sentiment.evaluation import evaluate_predictor

    build_ensemble([work / m for m in members], work / "ensemble")
    report = evaluate_predictor(Predictor.load(work / "ensemble"),
                                load_named_dataset("imdb").test)
    return {"name": "ensemble: " + " + ".join(members), "test_accuracy": report["accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True,
                        help="directory for the models and the rows (reused across runs)")
    parser.add_argument("--lm", type=Path, default=None,
                        help="the language model (default WORK/lm; the pretrain section "
                        "writes it there)")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--arch", default="gru", choices=("gru", "lstm"))
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--max-steps", type=int, default=0,
                        help="pretraining budget in batches (0: --pretrain-epochs passes)")
    parser.add_argument("--pretrain-epochs", type=int, default=2,
                        help="passes of pretraining (the recorded figures: 2)")
    parser.add_argument("--max-length", type=int, default=FINE_TUNING_MODEL["max_length"],
                        help="truncation of the fine-tuned classifiers")
    parser.add_argument("--finetune-epochs", type=int, default=FINE_TUNING["epochs"],
                        help="most epochs of the fine-tuned classifiers on all 25,000 reviews")
    parser.add_argument("--low-resource", default=",".join(map(str, LOW_RESOURCE)),
                        help="labelled training sizes of the lowresource section")
    parser.add_argument("--low-resource-batch-size", type=int, default=16,
                        help="batch size of every lowresource row (scratch and pretrained; "
                        "the recorded sweep: 16, 32, 64)")
    parser.add_argument("--low-resource-epochs", type=int, default=10,
                        help="most epochs of every lowresource row")
    parser.add_argument("--low-resource-freeze-epochs", type=int,
                        default=FINE_TUNING["freeze_epochs"],
                        help="epochs training only the new layers in the pretrained "
                        "lowresource rows")
    parser.add_argument("--low-resource-rows", default="scratch,finetune,vat",
                        help="which rows of the lowresource section to run")
    parser.add_argument("--vat-epsilon", type=float, default=1.0,
                        help="the L2 norm of the virtual adversarial perturbation")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    print(machine_line(), flush=True)
    rows: dict[str, dict] = {}
    lm = str(args.lm or work / "lm")
    pretrained = {"pretrained": lm, **FINE_TUNING, "epochs": args.finetune_epochs}
    vat = {"virtual_adversarial": args.vat_epsilon}
    few = {"epochs": args.low_resource_epochs, "patience": 2,
           "batch_size": args.low_resource_batch_size}
    few_pretrained = {**pretrained, **few, "freeze_epochs": args.low_resource_freeze_epochs}
    fine_model = {"max_length": args.max_length}
    plan = {
        "pretrain": [("pretrain", lambda: pretrain(work, args))],
        "scratch": [("scratch", lambda: classifier(work, "scratch", {}, {}))],
        "finetune": [("finetune", lambda: classifier(work, "finetune", fine_model,
                                                     pretrained))],
        "vat": [("vat", lambda: classifier(work, "vat", fine_model, {**pretrained, **vat},
                                           unlabelled=True))],
        "ensemble": [("fasttext", lambda: classifier(work, "fasttext", FASTTEXT,
                                                     {"epochs": 5, "patience": 1})),
                     ("ensemble", lambda: ensemble(work, ["finetune", "fasttext"]))],
        "lowresource": [row for n in map(int, args.low_resource.split(",")) for row in (
            (f"scratch_{n}", lambda n=n: classifier(work, f"scratch_{n}", {}, few, limit=n)),
            (f"finetune_{n}", lambda n=n: classifier(work, f"finetune_{n}", fine_model,
                                                     few_pretrained, limit=n)),
            (f"vat_{n}", lambda n=n: classifier(work, f"vat_{n}", fine_model,
                                                {**few_pretrained, **vat}, limit=n,
                                                unlabelled=True)))
                        if row[0].rsplit("_", 1)[0] in args.low_resource_rows.split(",")],
    }
    for section in sections:
        for name, run in plan[section]:
            print(f"== {name}", flush=True)
            rows[name] = saved(work, name, run)
            print(json.dumps(rows[name]), flush=True)
    print_tables(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


def print_tables(rows: dict[str, dict]) -> None:
    if "pretrain" in rows:
        p = rows["pretrain"]
        print(f"\n| language model | steps | tokens seen | passes | tokens/s | minutes | "
              f"held-out perplexity |\n|---|---:|---:|---:|---:|---:|---|\n"
              f"| {p['name']} | {p['steps']:,} | {p['tokens_seen']:,} | {p['epochs']} | "
              f"{p['tokens_per_second']:,.0f} | {p['minutes']} | {p['perplexity_before']:.0f} "
              f"-> {p['perplexity']:.1f} |")
    print("\n| model | labelled reviews | IMDB test accuracy | minutes |\n|---|---:|---:|---:|")
    for name, row in rows.items():
        if "test_accuracy" in row:
            print(f"| {row['name']} | {row.get('train_examples', '')} | "
                  f"{row['test_accuracy']:.4f} | {row['minutes']} |")


if __name__ == "__main__":
    main()
