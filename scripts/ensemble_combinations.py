"""Accuracy of every ensemble of already trained models, from their saved test probabilities.

An ensemble here averages its members' class probabilities, as `sentiment train --ensemble N`
does for one architecture; this script asks what averaging *different* models (architectures,
tokenizers) would gain, without training anything. Its input is the directory written by
`scripts/benchmark_models.py --save-probabilities DIR`: one ``.npz`` per model with
``probabilities`` ``(n, classes) float32`` and ``labels`` ``(n,) int32`` on one test set.

    python scripts/benchmark_models.py --datasets sst2 --save-probabilities sst2-probabilities
    python scripts/ensemble_combinations.py sst2-probabilities

For each ensemble size k it prints how many combinations of k models there are and their
best, mean and lowest accuracy (the best combination is chosen on the test set itself, so it
is an optimistic figure; the mean is the fair one).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np


def load(directory: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Model name -> test probabilities ``(n, classes)``, and the shared labels ``(n,)``.

    Raises:
        SystemExit: when the directory holds no ``.npz`` files or their labels differ.
    """
    files = sorted(directory.glob("*.npz"))
    if not files:
        sys.exit(f"{directory}: no .npz files (write them with benchmark_models.py "
                 "--save-probabilities)")
    probabilities, labels = {}, None
    for path in files:
        with np.load(path) as saved:
            if labels is None:
                labels = saved["labels"]
            elif not np.array_equal(labels, saved["labels"]):
                sys.exit(f"{path}: its labels differ from {files[0].name}'s (another test set)")
            probabilities[path.stem] = saved["probabilities"]
    return probabilities, labels


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose most probable class is the label."""
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    probabilities, labels = load(args.directory)
    names = sorted(probabilities, key=lambda name: -accuracy(probabilities[name], labels))
    print("| model | accuracy |\n|---|---:|")
    for name in names:
        print(f"| {name} | {accuracy(probabilities[name], labels) * 100:.2f}% |")
    print("\n| ensemble size | combinations | best | mean | lowest | best combination |\n"
          "|---:|---:|---:|---:|---:|---|")
    for size in range(1, len(names) + 1):
        scores = sorted(
            ((accuracy(np.mean([probabilities[n] for n in combination], axis=0), labels),
              combination) for combination in itertools.combinations(names, size)),
            key=lambda item: -item[0])
        values = [score for score, _ in scores]
        print(f"| {size} | {len(scores)} | {values[0] * 100:.2f}% | "
              f"{np.mean(values) * 100:.2f}% | {values[-1] * 100:.2f}% | "
              f"{' + '.join(scores[0][1])} |")


if __name__ == "__main__":
    main()
