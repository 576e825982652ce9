"""Weights & Biases without prompts or hangs: go offline when there is no key or no network."""

from __future__ import annotations

import netrc
import os
import socket

WANDB_HOST = "api.wandb.ai"


def _has_wandb_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(WANDB_HOST) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def _reachable(host: str, port: int = 443, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def prepare_wandb_environment() -> str:
    """Set ``WANDB_MODE=offline`` unless the user chose a mode or W&B is reachable with a key.

    Returns the mode in force. Offline runs land in ``<save_dir>/wandb/offline-run-*``
    and can be uploaded later with ``wandb sync``.
    """
    mode = os.environ.get("WANDB_MODE")
    if mode:
        return mode
    if not (_has_wandb_key() and _reachable(WANDB_HOST)):
        os.environ["WANDB_MODE"] = "offline"
        return "offline"
    return "online"
