#!/usr/bin/env bash
# Build a stand-in for Colab's runtime: Colab's Python and the versions Colab pre-installs of what the kit
# uses, for tests/test_colab_stack.py (run by hand: it needs PyPI, and takes a few minutes).
#   bash tests/colab_runtime/build_runtime.sh /tmp/colab-runtime
#   MMSENT_COLAB_RUNTIME=/tmp/colab-runtime python -m pytest -q tests/test_colab_stack.py
# torch and torchvision are stand-ins (their metadata only: Colab's CUDA builds are GBs; pip resolves
# against metadata, and the test only asks pip what it would do). Update the versions when Colab's change.
set -euo pipefail
runtime="${1:?usage: build_runtime.sh FOLDER}"
python="${COLAB_PYTHON:-$(pyenv root)/versions/3.13.0/bin/python3}"
here="$(cd "$(dirname "$0")" && pwd)"
"$python" -m venv "$runtime"
"$runtime/bin/python" -m pip install -q --upgrade pip
stubs="$(mktemp -d)"
"$runtime/bin/python" "$here/stub_wheel.py" "$stubs" torch 2.9.0+cu126 \
    "filelock" "typing-extensions>=4.10.0" "sympy>=1.13.3" "networkx>=2.5.1" "jinja2" "fsspec>=0.8.5"
"$runtime/bin/python" "$here/stub_wheel.py" "$stubs" torchvision 0.24.0+cu126 "numpy" "torch==2.9.0" "pillow>=5.3.0,!=8.3.*"
"$runtime/bin/python" -m pip install -q --no-index "$stubs"/*.whl --no-deps
"$runtime/bin/python" -m pip install -q -r "$here/colab-requirements.txt"
"$runtime/bin/python" -m pip freeze > "$runtime/colab-freeze.txt"
echo "built $runtime: $("$runtime/bin/python" --version), $(wc -l < "$runtime/colab-freeze.txt") distributions"
