# Two commands do all the set-up on a fresh machine:
#   make reproduce            the paper's tables and figures (cpu preset, offline data)
#   make test                 unit tests, a papermill run of the four notebooks, nbval
#                             (the study notebooks strictly: every output compared)
#   make book                 the book: README, study and pipeline notebooks -> build/book/
# Both create .venv/ when it is missing and do nothing extra when it exists.
#   make reproduce PRESET=fashion               real images: Fashion-MNIST on the CPU (~45 min)
#   make reproduce PRESET=paper DEVICE=cuda     the paper-scale run, on a GPU
#   make data [PRESET=...|DATASETS=a,b]         fetch a run's datasets (torchvision, else Debian)
#   make gpu-bundle                             wheels + Fashion-MNIST for an offline GPU machine
#   make gpu-dry-run                            scripts/gpu_run.sh's steps on this CPU, toy size
PYTHON ?= python3
comma  := ,
VENV   ?= .venv
PRESET ?= cpu
DEVICE ?= auto
# The pins this project was tested with; override on machines where they do not exist,
# e.g. make test TORCH="torch torchvision" (pyproject.toml itself only asks for ranges).
TORCH  ?= torch==2.14.1 torchvision==0.29.1
DATASETS ?=
BUNDLE ?= gpu_bundle
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.weedout-installed

.PHONY: reproduce test book bench kernel lab data gpu-bundle gpu-dry-run

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[test,book]'
	@# .gitconfig's notebook filter: outputs never reach a commit (no-op outside git)
	-git config --local --get-all include.path 2>/dev/null | grep -qx ../.gitconfig \
	  || git config --local --add include.path ../.gitconfig 2>/dev/null
	touch $(STAMP)

data: $(STAMP)
	$(PY) -m weedout.fetch --preset $(PRESET) $(subst $(comma), ,$(DATASETS))

reproduce: $(STAMP) data
	$(PY) -m weedout --preset $(PRESET) --device $(DEVICE)

gpu-bundle: $(STAMP)
	$(MAKE) data DATASETS=fashion_mnist
	bash scripts/gpu_bundle.sh $(BUNDLE)

gpu-dry-run: $(STAMP)
	BUNDLE=$(abspath $(BUNDLE)) bash scripts/gpu_run.sh --dry-run build/gpu-dry-run

# Two pytest runs, because nbval's mode is per run: the pipeline notebooks with --nbval-lax
# (only cells marked NBVAL_CHECK_OUTPUT compared), the study notebooks strictly (every output;
# image bytes are not compared, their text is). `pytest` exits 5 when it collects nothing: a
# failure here too, since every run below has tests to find.
test: $(STAMP)
	$(PY) -m pytest --nbval-lax tests notebooks --ignore=notebooks/study
	$(PY) -m pytest --nbval notebooks/study

# The book (docs/conf.py): offline, warnings are errors; tests/test_book.py runs this recipe
book: $(STAMP)
	$(PY) -m sphinx -W --keep-going -b html -q docs build/book

bench: $(STAMP)
	$(PY) -m weedout.bench

# A kernel named for this project, for a JupyterLab that is not this .venv's (system, conda):
# pick "Python (weedout)" there. The notebooks' own kernelspec stays python3.
kernel: $(STAMP)
	$(PY) -m ipykernel install --user --name weedout --display-name "Python (weedout)"

# WEEDOUT_PRESET=cpu make lab: every notebook whose PRESET is None uses that preset
lab: kernel
	$(PY) -m pip install --quiet -e '.[lab]'
	$(VENV)/bin/jupyter lab notebooks/
