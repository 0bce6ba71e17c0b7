"""Training step: reference FullyConnectedNet + Solver (Adam) vs torch.nn + torch.optim.Adam.

Both train the same architecture on the same float32 data with the same per-epoch permutation
minibatches; the ratio is project time / torch time per iteration (target <= 1.0). Cases: no
dropout, dropout 0.5, and batchnorm / layernorm in every hidden layer (``torch.nn.BatchNorm1d`` /
``torch.nn.LayerNorm`` between each Linear and its ReLU on the torch side).

The default is the configuration the grader trains in: batch grading runs two worker processes of
one torch thread each (``grader.autograde.batch.local_pool``), and every training the grader does
(the capstone, the Solver checks) runs at one thread. Here the workers run the same schedule in
step, each epoch of one side starting in both at once, so the two cores are loaded as when a
class is graded. Every process keeps its freed heap memory (``keep_freed_memory``).

    python -m bench.train_step                         # grading configuration: 2 workers x 1 thread
    python -m bench.train_step --workers 1             # one process, 1 thread (a quiet machine)
    python -m bench.train_step --workers 1 --threads 2 # one process using both cores
    python -m bench.train_step --quick                 # smoke mode (CI)
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import queue
import statistics
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import torch
from torch import nn

from bench.common import interleaved_samples, keep_freed_memory, round_ratio_quartiles
from grader.checks.reference import ReferenceLib

SHAPES = {"cifar": (3072, [512, 512]), "digits": (64, [512, 512])}
BATCH = 128
EVAL = 256
#: (dropout, normalization) of each measured case.
CASES = [(0.0, None), (0.5, None), (0.0, "batchnorm"), (0.0, "layernorm")]
TORCH_NORMS = {"batchnorm": nn.BatchNorm1d, "layernorm": nn.LayerNorm}


def project_trainer(ref: ReferenceLib, X: torch.Tensor, y: torch.Tensor, hidden: list[int], dropout: float,
                    normalization: str | None = None):  # fmt: skip
    """One call = one epoch of ``Solver.train()`` (N / 128 iterations plus its accuracy checks)."""
    model = ref.fc_net.FullyConnectedNet(
        hidden, input_dim=X.shape[1], num_classes=10, dropout=dropout, weight_scale=1e-2, seed=0,
        normalization=normalization,
    )  # fmt: skip
    data = {"X_train": X, "y_train": y, "X_val": X[:EVAL], "y_val": y[:EVAL]}
    solver = ref.solver.Solver(
        model, data, update_rule="adam", optim_config={"learning_rate": 1e-3}, batch_size=BATCH,
        num_epochs=0, num_train_samples=EVAL, num_val_samples=EVAL, verbose=False, seed=0,
    )  # fmt: skip

    def epoch() -> None:
        solver.num_epochs += 1
        solver.train()

    return epoch


def torch_trainer(X: torch.Tensor, y: torch.Tensor, hidden: list[int], dropout: float,
                  normalization: str | None = None):  # fmt: skip
    """The same epoch with torch.nn, autograd and torch.optim.Adam, and the same accuracy checks."""
    layers: list[nn.Module] = []
    sizes = [X.shape[1], *hidden]
    for fan_in, fan_out in itertools.pairwise(sizes):
        norm = [TORCH_NORMS[normalization](fan_out)] if normalization else []
        layers += [nn.Linear(fan_in, fan_out), *norm, nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
    model = nn.Sequential(*layers, nn.Linear(sizes[-1], 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)

    def accuracy(inputs: torch.Tensor, labels: torch.Tensor) -> float:
        model.eval()
        with torch.no_grad():
            correct = (model(inputs).argmax(dim=1) == labels).float().mean().item()
        model.train()
        return correct

    def epoch() -> None:
        order = torch.randperm(X.shape[0], generator=generator)
        for start in range(0, X.shape[0], BATCH):
            index = order[start : start + BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(X.index_select(0, index)), y.index_select(0, index)).backward()
            optimizer.step()
        sample = torch.randperm(X.shape[0], generator=generator)[:EVAL]
        accuracy(X[sample], y[sample])
        accuracy(X[:EVAL], y[:EVAL])

    return epoch


def schedule(quick: bool) -> tuple[int, int]:
    """Iterations per epoch and measured epochs per process."""
    return (4, 3) if quick else (32, 11)


def cases() -> list[tuple[str, int, list[int], float, str | None]]:
    """(shape name, input dim, hidden dims, dropout, normalization) of every measured case, in order."""
    return [(shape, dim, hidden, *case) for shape, (dim, hidden) in SHAPES.items() for case in CASES]


def worker(threads: int, quick: bool, fix_allocator: bool, barrier: Barrier, results: Queue) -> None:
    """One measuring process: reports whether its allocator is fixed, then every case's samples
    (seconds per epoch of each side), in the order of :func:`cases`."""
    torch.set_num_threads(threads)
    results.put(fix_allocator and keep_freed_memory())
    iterations, epochs = schedule(quick)
    examples = BATCH * iterations
    ref = ReferenceLib()
    for _, dim, hidden, dropout, normalization in cases():
        generator = torch.Generator().manual_seed(0)
        X = torch.randn(examples, dim, generator=generator)
        y = torch.randint(0, 10, (examples,), generator=generator)
        candidates = {
            "project": project_trainer(ref, X, y, hidden, dropout, normalization),
            "torch": torch_trainer(X, y, hidden, dropout, normalization),
        }
        for run in candidates.values():
            run()  # warm-up
        results.put(interleaved_samples(candidates, epochs, before_each=barrier.wait))


def collect(results: Queue, processes: list[BaseProcess]) -> list[Any]:
    """One message from every worker; exits with an error if a worker died instead."""
    messages = []
    while len(messages) < len(processes):
        try:
            messages.append(results.get(timeout=5))
        except queue.Empty:
            if any(process.exitcode not in (None, 0) for process in processes):
                for process in processes:
                    process.kill()
                raise SystemExit(
                    "bench.train_step: a measuring process failed (its traceback is above)"
                ) from None
    return messages


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="processes measuring at once (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    parser.add_argument(
        "--default-allocator", action="store_true", help="leave glibc's malloc thresholds alone"
    )
    args = parser.parse_args()
    if args.workers < 1 or args.threads < 1:
        parser.error("--workers and --threads must be at least 1")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(args.workers, timeout=600), context.Queue()
    processes = [
        context.Process(
            target=worker, args=(args.threads, args.quick, not args.default_allocator, barrier, results)
        )
        for _ in range(args.workers)
    ]
    for process in processes:
        process.start()
    steady = all(collect(results, processes))
    iterations, epochs = schedule(args.quick)
    print(
        f"torch {torch.__version__}, {args.workers} process(es) at once x {args.threads} thread(s), batch {BATCH}, "
        f"float32, epochs of {iterations} iterations, median of {args.workers} x {epochs} epochs, "
        f"freed heap memory {'kept (glibc thresholds fixed)' if steady else 'returned (default)'}"
    )
    for shape, dim, hidden, dropout, normalization in cases():
        reports = collect(results, processes)
        samples = {name: [t for report in reports for t in report[name]] for name in ("project", "torch")}
        per_iter = {name: 1e3 * statistics.median(times) / iterations for name, times in samples.items()}
        lower, upper = round_ratio_quartiles(samples["project"], samples["torch"])
        print(
            f"{shape:>6} {dim}->{'->'.join(map(str, hidden))}->10 dropout {dropout} {normalization or '':9}: "
            f"project {per_iter['project']:.3f} ms/iter, torch {per_iter['torch']:.3f} ms/iter, "
            f"ratio {per_iter['project'] / per_iter['torch']:.2f} (rounds {lower:.2f}-{upper:.2f})",
            flush=True,
        )
    for process in processes:
        process.join()


if __name__ == "__main__":
    main()
