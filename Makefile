# The two commands of the README. Each creates .venv/ when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test demo venv benchmark clean

$(BIN)/gan-lightning: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/gan-lightning

# Two test processes (pytest-xdist): the tests are single-threaded, and a 2-core machine runs the suite
# in about 10 minutes instead of 19. TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= 2

test: venv
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

demo: venv
	rm -rf runs/dcgan_mnist5k
	$(BIN)/gan-lightning fit --config experiments/dcgan/mnist5k.yaml
	$(BIN)/gan-lightning sample --ckpt_path runs/dcgan_mnist5k/checkpoints/last.ckpt --num_samples 64 --out runs/dcgan_mnist5k/samples_final.png --seed 0
	$(BIN)/python -m gan_lightning.plots runs/dcgan_mnist5k/metrics.jsonl --metric fid --out runs/dcgan_mnist5k/fid.png

benchmark: venv
	$(BIN)/python benchmarks/loop_overhead.py

clean:
	rm -rf runs lightning_logs wandb .pytest_cache
