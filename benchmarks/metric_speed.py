"""How long does FID on 10,000 samples take through gan-lightning, compared with torch-fidelity?

Offline and extractor-free, so both sides get exactly the same input: seeded float32
"features" of dimension 2048 (the Inception pool3 size), 10,000 real and 10,000
generated vectors (correlated Gaussians: a fixed random mixing matrix, the generated
set shifted and scaled a little). Only the work from features to the FID number is timed:

  gan-lightning:  the code path of ``evaluate_generator`` / ``MetricsCallback`` after extraction:
                  ``RealFeatures.from_features(real)`` (the real statistics that the cache stores),
                  ``GeneratorMetrics(["fid"])`` with them installed, the generated features fed
                  in batches of ``--batch-size`` (float64 running sums), ``compute()`` (the
                  Fréchet distance through a symmetric eigen-decomposition).
  torch-fidelity: ``torch_fidelity.metric_fid.fid_features_to_statistics`` on both sets
                  (``np.cov``) and ``fid_statistics_to_metric`` (eigenvalues of ``S1 @ S2``).

The runs alternate (gan-lightning, torch-fidelity, gan-lightning, ...), ``--rounds`` of
each, every run in a fresh child process, so that one run's allocations and caches do
not favour the next.

Threads: both sides run with the same thread count, ``--threads`` (default 1), set for
OpenBLAS (NumPy's LAPACK), MKL, OpenMP and ``torch.set_num_threads`` before the child
imports anything. One by default because on a shared machine multi-threaded OpenBLAS
LAPACK collapses under contention (an eigen-decomposition of a 1024 x 1024 matrix took
10 s with 2 threads and 0.1 s with 1 on the 2-core machine this was written on): the
timings would measure the other processes, not the code. ``--threads 0`` keeps the
libraries' own defaults. Reported per run: the wall time of the timed section
(``time.perf_counter``) and its peak memory, measured as the child's peak resident set
size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) at the end minus the same value
just before the timed section (after the features were made). Each run line also splits the time into the statistics
(means and covariances of both sets) and the distance (the matrix square-root trace).
RSS covers NumPy's and
PyTorch's allocations alike (``tracemalloc`` does not see PyTorch's CPU allocator).
The two FID values are printed too: they agree to a few digits (float64 in both;
the trace term is computed differently).

The last line is ``ratio (gan-lightning time / torch-fidelity time): X.XX``, the fastest
run of gan-lightning over the fastest run of torch-fidelity: on a machine shared with
other busy processes, contention only ever adds time, so the fastest run of each is
the least disturbed estimate (``timeit``'s reasoning). The line before it gives the
ratio of the medians.

    python benchmarks/metric_speed.py [--num 10000] [--dim 2048] [--rounds 3] [--batch-size 500] [--threads 1]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time


def make_features(num: int, dim: int, seed: int = 0):
    import torch

    generator = torch.Generator().manual_seed(seed)
    mixing = torch.randn(dim, dim, generator=generator) / dim**0.5
    real = torch.randn(num, dim, generator=generator) @ mixing
    fake = (torch.randn(num, dim, generator=generator) * 1.1 + 0.05) @ mixing
    return real.float().contiguous(), fake.float().contiguous()


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB, macOS bytes


def fid_gan_lightning(real, fake, batch_size: int) -> tuple[float, float]:
    """``(fid, time at which the statistics were done)``."""
    from gan_lightning.evaluation import GeneratorMetrics, RealFeatures

    suite = GeneratorMetrics(["fid"])
    suite.set_real(RealFeatures.from_features(real))
    for start in range(0, fake.shape[0], batch_size):
        suite.update_outputs(features=fake[start : start + batch_size])
    statistics_done = time.perf_counter()
    return suite.compute()["fid"], statistics_done


def fid_torch_fidelity(real, fake) -> tuple[float, float]:
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

    statistics_real = fid_features_to_statistics(real)
    statistics_fake = fid_features_to_statistics(fake)
    statistics_done = time.perf_counter()
    return fid_statistics_to_metric(statistics_real, statistics_fake, verbose=False)[KEY_METRIC_FID], statistics_done


THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _child(method: str, num: int, dim: int, batch_size: int, threads: int, queue) -> None:
    if threads > 0:  # before NumPy and torch start their thread pools
        for variable in THREAD_VARIABLES:
            os.environ[variable] = str(threads)
    import torch  # imported before the baseline: both methods pay for it alike

    if threads > 0:
        torch.set_num_threads(threads)

    import gan_lightning.evaluation  # noqa: F401
    import torch_fidelity.metric_fid  # noqa: F401

    real, fake = make_features(num, dim)
    baseline = _peak_rss_bytes()
    started = time.perf_counter()
    if method == "gan-lightning":
        value, statistics_done = fid_gan_lightning(real, fake, batch_size)
    else:
        value, statistics_done = fid_torch_fidelity(real, fake)
    finished = time.perf_counter()
    queue.put({
        "seconds": finished - started, "statistics_seconds": statistics_done - started,
        "distance_seconds": finished - statistics_done,
        "peak_bytes": max(_peak_rss_bytes() - baseline, 0), "fid": float(value),
    })


def run_once(method: str, num: int, dim: int, batch_size: int, threads: int) -> dict:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(method, num, dim, batch_size, threads, queue))
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{method} run failed with exit code {process.exitcode}")
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num", type=int, default=10_000, help="real and generated feature vectors, each")
    parser.add_argument("--dim", type=int, default=2048, help="feature dimension")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=500, help="gan-lightning's update batch size")
    parser.add_argument("--threads", type=int, default=1, help="BLAS / OpenMP / torch threads of both (0: defaults)")
    args = parser.parse_args(argv)

    import torch

    threads = args.threads if args.threads > 0 else f"default ({torch.get_num_threads()} torch)"
    print(f"FID from {args.num} real + {args.num} generated float32 features of dimension {args.dim}; "
          f"{args.rounds} alternating rounds, one fresh process per run; torch {torch.__version__}, "
          f"threads: {threads}")
    times: dict[str, list[float]] = {"gan-lightning": [], "torch-fidelity": []}
    for round_index in range(args.rounds):
        for method in ("gan-lightning", "torch-fidelity"):
            result = run_once(method, args.num, args.dim, args.batch_size, args.threads)
            times[method].append(result["seconds"])
            print(f"round {round_index + 1} {method:>14}: {result['seconds']:7.3f} s "
                  f"(statistics {result['statistics_seconds']:.3f} s + distance {result['distance_seconds']:.3f} s), "
                  f"peak RSS +{result['peak_bytes'] / 2**20:7.1f} MiB, fid {result['fid']:.6f}", flush=True)
    for method, values in times.items():
        print(f"{method:>14}: fastest {min(values):.3f} s, median {statistics.median(values):.3f} s, "
              f"slowest {max(values):.3f} s")
    median_ratio = statistics.median(times["gan-lightning"]) / statistics.median(times["torch-fidelity"])
    print(f"median-run ratio (gan-lightning / torch-fidelity): {median_ratio:.2f}")
    ratio = min(times["gan-lightning"]) / min(times["torch-fidelity"])
    print(f"ratio (gan-lightning time / torch-fidelity time): {ratio:.2f}")


if __name__ == "__main__":
    main()
