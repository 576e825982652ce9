"""A callback that crashes a run at a given iteration, for the subprocess tests (tests/ on PYTHONPATH):
``--trainer.callbacks+ '{"class_path": "crash.CrashAt", "init_args": {"step": 25}}'``."""

import lightning as L


class CrashAt(L.Callback):
    """Raises after iteration ``step`` (every rank), as a job that dies between two checkpoints."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise RuntimeError(f"simulated crash after iteration {self.step}")
