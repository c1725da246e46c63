# Two entry points for a fresh machine: `make demo` and `make test`.
# Each installs what is missing (FFmpeg's shared libraries, Chromium, .venv/, the project) and then runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint bench setup ffmpeg chromium clean

demo: setup
	$(PY) -m builder demo

# One pytest worker per core (pytest-xdist); each runs torch on one thread (tests/conftest.py).
test: setup
	$(PY) -m pytest -q -n auto

test-slow: setup
	$(PY) -m pytest -q -n auto -m slow

lint: setup
	$(PY) -m ruff check codecfake_hf builder eval tests bench

bench: setup
	$(PY) -m bench.resynth --codecs cpu --utterances 1 --repeats 3 --codec_timeout_s 75
	$(PY) -m bench.eer

setup: ffmpeg chromium $(STAMP)

# torchcodec (through which `datasets` decodes Audio) needs FFmpeg's shared libraries.
ffmpeg:
	@if ! ldconfig -p | grep -q libavcodec; then \
		echo "Installing FFmpeg's libraries with apt-get"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null; \
	fi

# The detector app's browser test drives Debian's Chromium (Playwright with executable_path; Playwright's own
# browser download is not used).
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "Installing Chromium (the app's browser test) with apt-get"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	fi

$(STAMP): pyproject.toml setup.py constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test,app]'
	touch $(STAMP)

clean:
	rm -rf $(VENV)
