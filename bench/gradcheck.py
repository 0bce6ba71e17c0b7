"""Numeric gradient check: course_lib's compute_numeric_gradient vs the classic per-element loop.

The model is the reference FullyConnectedNet 32 -> 40 -> 40 -> 10 (3,370 parameters, float64,
batch 16). Both implementations compute the same central differences; the script asserts they
agree to the last bits and prints time per parameter and the ratio project/classic.

    python -m bench.gradcheck [--quick]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch

from bench.common import interleaved_medians
from grader.checks.reference import ReferenceLib


def classic_numeric_gradient(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, h: float = 1e-7):
    """The textbook version: index one element at a time through tensor indexing."""
    grad = torch.zeros_like(x)
    for ix in torch.cartesian_prod(*[torch.arange(n) for n in x.shape]).reshape(-1, x.dim()).tolist():
        index = tuple(ix)
        old = x[index].item()
        x[index] = old + h
        plus = f(x).clone()
        x[index] = old - h
        minus = f(x).clone()
        x[index] = old
        grad[index] = ((plus - minus).sum() / (2 * h)).item()
    return grad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ref = ReferenceLib()
    model = ref.fc_net.FullyConnectedNet([40, 40], input_dim=32, num_classes=10, dtype=torch.float64, seed=0)
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(16, 32, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 10, (16,), generator=generator)
    names = ["b1", "W3"] if args.quick else list(model.params)
    count = sum(model.params[n].numel() for n in names)

    def loss(_: torch.Tensor) -> torch.Tensor:
        return model.loss(X, y)[0]

    def project() -> None:
        for name in names:
            ref.gradcheck.compute_numeric_gradient(loss, model.params[name])

    def classic() -> None:
        for name in names:
            classic_numeric_gradient(loss, model.params[name])

    for name in names:
        ours = ref.gradcheck.compute_numeric_gradient(loss, model.params[name])
        theirs = classic_numeric_gradient(loss, model.params[name])
        assert torch.equal(ours, theirs), f"numbers differ for {name}"
    medians = interleaved_medians({"project": project, "classic": classic}, repeats=3 if args.quick else 5)
    per = {k: 1e6 * v / count for k, v in medians.items()}
    print(
        f"{count} parameters ({', '.join(names)}), 1 thread: project {per['project']:.1f} us/param, "
        f"classic {per['classic']:.1f} us/param, ratio {per['project'] / per['classic']:.2f} (identical numbers)"
    )


if __name__ == "__main__":
    main()
