"""Weights & Biases without prompts, hangs or dead runs: a run logs offline when W&B cannot be used.

Before the loggers are built, :func:`prepare_wandb_environment` decides the mode:

- ``WANDB_MODE`` ``offline``, ``dryrun`` or ``disabled``, set by the user: as set;
- no API key (``WANDB_API_KEY`` or ``~/.netrc``): offline;
- a key, but the W&B server (``WANDB_BASE_URL``, default ``https://api.wandb.ai``) does not accept
  a TCP connection within ``CONNECT_TIMEOUT_S`` seconds: offline;
- otherwise online, ``WANDB_MODE=online`` set by the user included; ``wandb.init`` then has
  ``INIT_TIMEOUT_S`` seconds (``WANDB_INIT_TIMEOUT`` when set) to start the run.

Once the trainer is built, :func:`start_wandb_runs` starts every ``WandbLogger``'s run at once: an
online start that fails (an invalid key, a server that does not answer in time) starts it offline
instead. A run that ends offline for any of these reasons prints one line: why, where the offline
run is, and the ``wandb sync`` command that uploads it later. Offline runs land in
``<save_dir>/wandb/offline-run-*`` with scalars, hyperparameters and sample images.
"""

from __future__ import annotations

import netrc
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

from gan_lightning.errors import UsageError

DEFAULT_BASE_URL = "https://api.wandb.ai"
#: Seconds a TCP connection to the W&B server may take before a run logs offline.
CONNECT_TIMEOUT_S = 3.0
#: Seconds ``wandb.init`` may take to start an online run (W&B's own default is 90) before the run
#: logs offline; ``WANDB_INIT_TIMEOUT`` replaces it.
INIT_TIMEOUT_S = 30
#: Modes of ``WANDB_MODE`` that are kept as the user set them.
KEPT_MODES = ("offline", "dryrun", "disabled")

#: Why the run logs offline, set by :func:`prepare_wandb_environment` (``None``: by the user's choice or online).
_offline_reason: str | None = None


def base_url() -> str:
    return os.environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL


def _has_wandb_key(url: str) -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(urlparse(url).hostname or "") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def _connection_problem(url: str, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """``None`` when ``url``'s host accepts a TCP connection within ``timeout`` seconds, else why not."""
    parsed = urlparse(url)
    host = parsed.hostname
    if not host:
        return f"WANDB_BASE_URL {url!r} names no host"
    try:
        port = parsed.port or (80 if parsed.scheme == "http" else 443)
    except ValueError:
        return f"WANDB_BASE_URL {url!r} has an invalid port"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.timeout:
        return f"{url} did not answer within {timeout:g} s"
    except OSError as error:
        return f"{url} cannot be reached ({error.strerror or error})"


def prepare_wandb_environment() -> str:
    """Set ``WANDB_MODE=offline`` when W&B cannot be used online (module docstring); returns the mode in force."""
    global _offline_reason
    _offline_reason = None
    mode = os.environ.get("WANDB_MODE")
    if mode and mode not in ("online", "run"):
        return mode  # offline, dryrun, disabled (or a value wandb itself judges)
    url = base_url()
    if not _has_wandb_key(url):
        _offline_reason = "no W&B API key (set WANDB_API_KEY or run `wandb login`)"
    else:
        _offline_reason = _connection_problem(url)
    if _offline_reason is not None:
        os.environ["WANDB_MODE"] = "offline"
        return "offline"
    os.environ.setdefault("WANDB_INIT_TIMEOUT", str(INIT_TIMEOUT_S))
    return "online"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def start_wandb_runs(loggers) -> None:
    """Start the run of every ``WandbLogger`` of ``loggers`` now (on global rank 0; other ranks log
    nothing), offline when an online start fails, and print the one line of an offline fallback.

    Raises :class:`UsageError` (one line) when not even an offline run starts (a save_dir that
    cannot be written).
    """
    from lightning.pytorch.loggers import WandbLogger
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    if getattr(rank_zero_only, "rank", 0) != 0:
        return
    for logger in loggers:
        if not isinstance(logger, WandbLogger) or logger._experiment is not None:
            continue
        reason = _offline_reason
        try:
            run = logger.experiment
        except Exception as error:  # wandb's CommError (refused key, timeout), UsageError, ...
            if logger._wandb_init.get("mode") == "offline" or os.environ.get("WANDB_MODE") in KEPT_MODES:
                raise _cannot_start(logger, error) from None
            reason = f"{base_url()} refused or did not start the run within {_init_timeout()} s: {_first_line(error)}"
            _stop_wandb_analytics()
            logger._experiment = None
            logger._wandb_init["mode"] = "offline"
            try:
                run = logger.experiment
            except Exception as offline_error:
                raise _cannot_start(logger, offline_error) from None
        if reason is not None and getattr(run, "offline", False):
            folder = Path(run.dir).parent  # <save_dir>/wandb/offline-run-*/files -> the run's folder
            print(f"gan-lightning: W&B logs offline: {reason}; the run is in {folder}; upload it later with "
                  f"`wandb sync {folder}`", file=sys.stderr, flush=True)


def _stop_wandb_analytics() -> None:
    """Stop wandb's own usage analytics for this process after an online start failed: they post to
    the same server, and at exit each post to a server that never answers waits 10 s (35 s to exit
    after a silent server, 24 s with this; wandb 0.31). Nothing to do where wandb has no such switch."""
    try:
        from wandb.analytics.opentelemetry.opentelemetry_proxy import disable
    except ImportError:
        return
    disable()


def _init_timeout() -> str:
    return os.environ.get("WANDB_INIT_TIMEOUT", str(INIT_TIMEOUT_S))


def _cannot_start(logger, error: BaseException) -> UsageError:
    where = logger._wandb_init.get("dir") or os.getcwd()
    return UsageError(f"--trainer.logger: W&B cannot start a run in {where} ({_first_line(error)}); give a "
                      f"writable --trainer.logger.init_args.save_dir, or --trainer.logger false")
