#!/usr/bin/env python
"""ETTh1 benchmark of the seq2seq forecaster against a linear model and naive baselines.

Protocol (Zhou et al., "Informer", AAAI 2021): 12/4/4 months train/validation/test, each
later split starting ``lookback`` rows earlier, z-normalization with training statistics,
MSE and MAE on the normalized test windows with stride 1. Settings: multivariate (7 -> 7) and
univariate (OT -> OT), horizons 96, 192, 336, 720. Beside the model, on the same windows:
``repeat_last``, ``seasonal_naive`` (same hour a day earlier) and a linear model (one Dense
from the flattened window to all outputs, trained here with the same early stopping).
Lookback 336 by default; given several (``--lookback 336 720``), each is trained and each row
reports the one with the lowest validation MSE, chosen separately for the model and the linear
model. The model's context dropout is 0.5 (SegRNN's setting for ETTh1 in Time-Series-Library);
several (``--dropout 0 0.5``) are chosen from the same way, by validation MSE. The model is an
ensemble of 3 (``--ensemble``: seeds ``seed``, ``seed + 1``, ``seed + 2``, the forecast is
their mean, as in ``sentiment forecast train --ensemble 3``).

    SENTIMENT_DATA_DIR=../shared/data python scripts/benchmark_etth1.py

Prints a Markdown table (and writes JSON with ``--json-out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _number(value: float) -> str:
    """Three decimals, four below 0.1 (the univariate MSEs differ in the fourth)."""
    return f"{value:.4f}" if abs(value) < 0.1 else f"{value:.3f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lookback", type=int, nargs="+", default=[336],
                        help="Lookback, or several to try: each row then reports the one with "
                        "the lowest validation MSE (chosen separately for the model and the "
                        "linear model).")
    parser.add_argument("--horizons", type=int, nargs="+", default=[96, 192, 336, 720])
    parser.add_argument("--settings", nargs="+", default=["multivariate", "univariate"],
                        choices=["multivariate", "univariate"])
    parser.add_argument("--arch", default="gru", choices=["gru", "lstm"])
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--dropout", type=float, nargs="+", default=[0.5],
                        help="Dropout on the encoder's context vector, or several to choose from "
                        "by validation MSE (0.5 is SegRNN's setting for ETTh1 in "
                        "Time-Series-Library).")
    parser.add_argument("--highway", type=int, nargs="+", default=[0],
                        help="Steps of each target's history in the model's linear highway "
                        "(LSTNet; 0: none), or several to choose from by validation MSE.")
    parser.add_argument("--ensemble", type=int, default=3,
                        help="Members of the model's ensemble (seeds seed, seed + 1, ...; the "
                        "forecast is their mean); 1 trains a single model. The linear model "
                        "stays single.")
    parser.add_argument("--segment", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--linear-epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--json-out", default=None, help="Also write the results here.")
    args = parser.parse_args(argv)

    from sentiment.forecasting import ForecasterConfig, ForecastTrainingConfig, train_forecaster
    from sentiment.timeseries.data import ETTH1_COLUMNS, load_etth1

    series = load_etth1()
    rows = []
    started = time.perf_counter()

    def fit(config, training):
        """Train one configuration; its test metrics, best validation MSE, epochs, seconds."""
        t0 = time.perf_counter()
        result = train_forecaster(series, config, training)
        test = result.metrics["test"]
        return {"mse": test["mse"], "mae": test["mae"], "lookback": config.lookback,
                "dropout": config.dropout, "highway": config.highway,
                "val_mse": result.metrics["training"]["best_val_mse"],
                "epochs": result.metrics["training"]["epochs_run"],
                "seconds": round(time.perf_counter() - t0, 1),
                "baselines": test["baselines"], "windows": test["windows"]}

    model_training = ForecastTrainingConfig(
        epochs=args.epochs, patience=args.patience, batch_size=args.batch_size,
        learning_rate=args.learning_rate, seed=args.seed)
    linear_training = ForecastTrainingConfig(
        epochs=args.linear_epochs, patience=args.patience, batch_size=128,
        learning_rate=3e-3, seed=args.seed)
    for setting in args.settings:
        targets = list(ETTH1_COLUMNS) if setting == "multivariate" else ["OT"]
        for horizon in args.horizons:
            # every lookback (and, for the model, every dropout) is trained; the one with the
            # lowest validation MSE is reported (the test windows are the same for every
            # lookback: each split starts earlier)
            models, linears = [], []
            for lookback in args.lookback:
                common = dict(lookback=lookback, horizon=horizon, targets=targets,
                              inputs=targets, split="etth1", dataset="etth1")
                for dropout in args.dropout:
                    for highway in args.highway:
                        models.append(fit(ForecasterConfig(
                            arch=args.arch, units=args.units, segment=args.segment,
                            channel_independent=len(targets) > 1, revin=True,
                            dropout=dropout, highway=min(highway, lookback),
                            ensemble=args.ensemble, **common),
                            model_training))
                linears.append(fit(ForecasterConfig(arch="linear", revin=False, calendar=(),
                                                    **common), linear_training))
            best = min(models, key=lambda r: r["val_mse"])
            linear = min(linears, key=lambda r: r["val_mse"])
            row = {"setting": setting, "horizon": horizon,
                   "model": {k: v for k, v in best.items() if k not in ("baselines", "windows")},
                   "linear": {k: v for k, v in linear.items()
                              if k not in ("baselines", "windows")},
                   **{name: {"mse": b["mse"], "mae": b["mae"]}
                      for name, b in best["baselines"].items()},
                   "windows": best["windows"],
                   "candidates": {"model": [{k: r[k] for k in ("lookback", "dropout", "highway",
                                                               "val_mse", "mse")}
                                            for r in models],
                                  "linear": [{k: r[k] for k in ("lookback", "val_mse", "mse")}
                                             for r in linears]}}
            rows.append(row)
            print(f"{setting} H={horizon}: model {best['mse']:.3f}/{best['mae']:.3f} "
                  f"(lookback {best['lookback']}, dropout {best['dropout']}, "
                  f"highway {best['highway']}), "
                  f"linear {linear['mse']:.3f}/"
                  f"{linear['mae']:.3f} (lookback {linear['lookback']}); "
                  f"{sum(r['seconds'] for r in models + linears):.0f}s",
                  file=sys.stderr, flush=True)
    total = time.perf_counter() - started

    name = f"{args.arch.upper()} seq2seq"
    print(f"\nETTh1, lookback chosen from {args.lookback}, the model's dropout from "
          f"{args.dropout} and highway from {args.highway} by validation MSE (in brackets), "
          f"normalized test set (stride 1), MSE / MAE; "
          f"{name}: {args.units} units, segment {args.segment}, RevIN, "
          f"channel-independent "
          f"in the multivariate setting, direct decoder, <= {args.epochs} epochs"
          f"{f', mean of {args.ensemble} seeds' if args.ensemble > 1 else ''}.\n")
    print(f"| setting | H | {name} | linear | repeat_last | seasonal_naive |")
    print("|---|---:|---|---|---|---|")
    for row in rows:
        cells = [f"{_number(row[k]['mse'])} / {_number(row[k]['mae'])}"
                 + (f" ({row[k]['lookback']}, {row[k]['dropout']}, {row[k]['highway']})"
                    if k == "model"
                    else f" ({row[k]['lookback']})" if k == "linear" else "")
                 for k in ("model", "linear", "repeat_last", "seasonal_naive")]
        print(f"| {row['setting']} | {row['horizon']} | " + " | ".join(cells) + " |")
    print(f"\ntotal {total / 60:.1f} min on {platform.machine()} "
          f"({os.cpu_count()} CPUs), python {platform.python_version()}")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump({"rows": rows, "args": vars(args), "seconds": round(total, 1)}, handle,
                      indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
