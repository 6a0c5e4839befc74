# Two commands on a fresh machine:
#   make demo   set up .venv and generate Shakespeare from the pretrained zoo model
#   make test   set up .venv (with test tools) and run the whole test suite
PY     ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
STAMP  := $(VENV)/.installed
DSTAMP := $(VENV)/.installed-dev

.PHONY: demo test test-fast lint notebooks notebooks-quick bench setup setup-dev es-up es-down data gpu clean

# the dependencies are listed once, in pyproject.toml; requirements*.txt name its extras
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -q -r requirements.txt
	touch $@

$(DSTAMP): $(STAMP) requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

setup: $(STAMP)
setup-dev: $(DSTAMP)

demo: $(STAMP)
	$(BIN)/python -m helpers sample --zoo shakespeare_char --prompt "ROMEO:" \
	  --temperature 0.7 --num 2 --length 500 --seed 0 --out generated/shakespeare_demo.txt

test: $(DSTAMP)
	$(BIN)/ruff check helpers tests bench
	KERAS_BACKEND=torch $(BIN)/python -m pytest -q -m core -p no:cacheprovider
	KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(DSTAMP)
	$(BIN)/python -m pytest -q -m "not slow and not notebooks"

lint: $(DSTAMP)
	$(BIN)/ruff check helpers tests bench

notebooks: $(DSTAMP)      ## full run, outputs committed
	$(BIN)/python -m helpers.notebooks run --full --inplace

notebooks-quick: $(DSTAMP)
	$(BIN)/python -m helpers.notebooks run --quick

bench: $(STAMP)
	$(BIN)/python bench/bench_core.py

es-up:                    ## a single-node Elasticsearch on localhost:9200 (needs Docker)
	docker compose up -d elasticsearch

es-down:
	docker compose down

data: $(STAMP)            ## download every data set of the notebooks into data/ (TEXTGEN_MIRROR: from a mirror)
	$(BIN)/python -m helpers data fetch

gpu: $(STAMP)             ## PyTorch with CUDA as this .venv's Keras backend (NVIDIA GPU, Linux)
	$(PIP) install -q -e ".[gpu]"
	echo torch > $(VENV)/textgen-backend
	$(BIN)/python -c "from helpers.workshop import setup; setup()"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
