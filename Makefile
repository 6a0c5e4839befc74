# Two commands on a fresh machine:
#   make demo   set up .venv and generate Shakespeare from the pretrained zoo model
#   make test   set up .venv (with test tools) and run the whole test suite
PY     ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
STAMP  := $(VENV)/.installed
DSTAMP := $(VENV)/.installed-dev
SSTAMP := $(VENV)/.installed-site
LSTAMP := $(VENV)/.installed-lite

.PHONY: demo test test-fast lint notebooks notebooks-quick bench setup setup-dev es-up es-down data gpu clean site browser nodejs lite

# the dependencies are listed once, in pyproject.toml; requirements*.txt name its extras
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -q -r requirements.txt
	touch $@

$(DSTAMP): $(STAMP) requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

$(SSTAMP): $(STAMP)
	$(PIP) install -q -e ".[site]"
	touch $@

$(LSTAMP): $(STAMP)
	$(PIP) install -q -e ".[lite]"
	touch $@

setup: $(STAMP)
setup-dev: $(DSTAMP) browser nodejs

# tests/test_site.py reads the site in Debian's chromium (Playwright's own browser builds
# are not used); installed as root, otherwise the test skips and says why
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the site's browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: chromium is not installed (needs root: apt-get install chromium); tests/test_site.py will skip"; fi; }
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's npm: make lite fetches the Pyodide runtime with it"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; \
	  else echo "note: npm is not installed (needs root: apt-get install npm); tests/test_lite.py will skip"; fi; }

site: $(SSTAMP)           ## the series as a static site in site/ (committed outputs, nothing executed)
	$(BIN)/python docs/build.py --out site

lite: $(LSTAMP) nodejs     ## the pretrained notebooks as a JupyterLite site in site/lite/ (runs in the browser)
	$(BIN)/python lite/build.py --out site/lite

demo: $(STAMP)
	$(BIN)/python -m helpers sample --zoo shakespeare_char --prompt "ROMEO:" \
	  --temperature 0.7 --num 2 --length 500 --seed 0 --out generated/shakespeare_demo.txt --force

test: $(DSTAMP) browser nodejs
	$(BIN)/ruff check helpers tests bench docs lite
	KERAS_BACKEND=torch $(BIN)/python -m pytest -q -m core -p no:cacheprovider
	KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(DSTAMP)
	$(BIN)/python -m pytest -q -m "not slow and not notebooks"

lint: $(DSTAMP)
	$(BIN)/ruff check helpers tests bench docs lite

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
	rm -rf $(VENV) .pytest_cache .ruff_cache site .lite-cache
