"""W&B never kills a run (README, Weights & Biases): without a key, without a network, with a key the
server refuses or a server that does not answer, the run logs offline, says so in one line (where the
run is, how to upload it) and finishes. The servers are local: a closed port, a port that answers
401 to everything, a port that accepts connections and never answers."""

import http.server
import json
import os
import socket
import subprocess
import threading
import time

import pytest
import torch

from gan_lightning import tracking
from test_cli import EXE, ROOT, TINY

DUMMY_KEY = "0123456789abcdef0123456789abcdef01234567"  # 40 characters, as W&B keys are
FIT = ["fit", "--model", "DCGAN", "--data", "MNIST5k", "--model.init_args.latent_dim", "16", *TINY,
       "--trainer.max_steps", "2", "--sample_grid.every_n_steps", "1000"]


def closed_port() -> int:
    with socket.socket() as probe:  # bound, then closed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Refusing(http.server.BaseHTTPRequestHandler):
    """W&B's answer to a key it does not know, to every request."""

    def answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"errors": [{"message": "user is not logged in"}]}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_server():
    """Accepts every connection and never answers (a proxy or a server that hangs)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    connections, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connections.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in connections:
        connection.close()
    listener.close()


@pytest.fixture
def wandb_env(monkeypatch, tmp_path):
    for key in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_INIT_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc of the user's
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    return monkeypatch


def test_a_mode_the_user_chose_offline_is_kept(wandb_env):
    for mode in ("offline", "disabled", "dryrun"):
        wandb_env.setenv("WANDB_MODE", mode)
        assert tracking.prepare_wandb_environment() == mode
        assert tracking._offline_reason is None


def test_without_a_key_the_run_is_offline_even_when_online_was_asked(wandb_env):
    wandb_env.setenv("WANDB_MODE", "online")
    assert tracking.prepare_wandb_environment() == "offline"
    assert tracking._offline_reason == "no W&B API key (set WANDB_API_KEY or run `wandb login`)"
    assert os.environ["WANDB_MODE"] == "offline"


def test_a_key_and_an_unreachable_server_go_offline_within_the_connect_timeout(wandb_env):
    url = f"http://127.0.0.1:{closed_port()}"
    wandb_env.setenv("WANDB_MODE", "online")
    wandb_env.setenv("WANDB_API_KEY", DUMMY_KEY)
    wandb_env.setenv("WANDB_BASE_URL", url)
    start = time.monotonic()
    assert tracking.prepare_wandb_environment() == "offline"
    assert time.monotonic() - start < tracking.CONNECT_TIMEOUT_S + 1
    assert tracking._offline_reason.startswith(f"{url} cannot be reached (")


def test_a_key_in_netrc_for_the_servers_host_and_a_server_that_listens_stay_online(wandb_env, tmp_path,
                                                                                   refusing_server):
    (tmp_path / ".netrc").write_text(f"machine 127.0.0.1\n  login user\n  password {DUMMY_KEY}\n")
    (tmp_path / ".netrc").chmod(0o600)
    wandb_env.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{refusing_server}")
    assert tracking.prepare_wandb_environment() == "online"
    assert tracking._offline_reason is None
    assert os.environ["WANDB_INIT_TIMEOUT"] == str(tracking.INIT_TIMEOUT_S)  # a bounded wait for wandb.init


def run_with_timestamps(args, env):
    """Run the CLI; its stderr lines with the seconds since the start at which each arrived, and its exit status."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB")}
    full_env.update(env)
    start = time.monotonic()
    process = subprocess.Popen([str(EXE), *map(str, args)], cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    lines = [(time.monotonic() - start, line.rstrip("\n")) for line in process.stderr]
    return process.wait(timeout=300), lines


@pytest.mark.parametrize("server, reason", [
    ("closed", "cannot be reached"),
    ("refusing", "user is not logged in"),  # an invalid key
    ("silent", "did not start the run within 5 s"),
])
def test_online_with_a_key_and_no_working_server_falls_back_offline_in_one_line_and_finishes(
        tmp_path, server, reason, request):
    port = closed_port() if server == "closed" else request.getfixturevalue(f"{server}_server")
    env = {"WANDB_MODE": "online", "WANDB_API_KEY": DUMMY_KEY, "WANDB_BASE_URL": f"http://127.0.0.1:{port}",
           "WANDB_INIT_TIMEOUT": "5"}
    status, lines = run_with_timestamps([*FIT, "--trainer.default_root_dir", tmp_path / "run"], env)
    text = "\n".join(line for _, line in lines)
    assert status == 0, text[-3000:]
    assert "Traceback" not in text
    notes = [(seconds, line) for seconds, line in lines if line.startswith("gan-lightning: W&B")]
    assert len(notes) == 1, text[-3000:]
    seconds, note = notes[0]
    # the fallback, from the first line of the run (after Python's start and the imports, which alone take
    # more than 10 s on a loaded 2-core machine) to the line that says the run is offline
    started = next(at for at, line in lines if line.startswith("Seed set to"))
    assert seconds - started < 30, (seconds - started, note)
    assert note.startswith(f"gan-lightning: W&B logs offline: http://127.0.0.1:{port} ") and reason in note
    folder = next((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert note.endswith(f"; the run is in {folder}; upload it later with `wandb sync {folder}`")
    records = next(folder.glob("run-*.wandb")).read_bytes()
    assert b"d_loss" in records and b"g_loss" in records  # the run logged, offline
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 2
