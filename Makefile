# Two commands do all the set-up on a fresh machine:
#   make reproduce            the paper's tables and figures (cpu preset, offline data)
#   make test                 unit tests, a papermill run of the four notebooks, nbval
# Both create .venv/ when it is missing and do nothing extra when it exists.
#   make reproduce PRESET=paper DEVICE=cuda     the paper-scale run, on a GPU
PYTHON ?= python3
VENV   ?= .venv
PRESET ?= cpu
DEVICE ?= auto
# The pins this project was tested with; override on machines where they do not exist,
# e.g. make test TORCH="torch torchvision" (pyproject.toml itself only asks for ranges).
TORCH  ?= torch==2.14.1 torchvision==0.29.1
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.weedout-installed

.PHONY: reproduce test bench kernel lab clean-results

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[test]'
	@# .gitconfig's notebook filter: outputs never reach a commit (no-op outside git)
	-git config --local --get-all include.path 2>/dev/null | grep -qx ../.gitconfig \
	  || git config --local --add include.path ../.gitconfig 2>/dev/null
	touch $(STAMP)

reproduce: $(STAMP)
	$(PY) -m weedout --preset $(PRESET) --device $(DEVICE)

test: $(STAMP)
	$(PY) -m pytest --nbval-lax tests notebooks

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
