#!/usr/bin/env bash
# Install everything tinyee needs on Debian 12: system packages, then a venv with the pinned stack.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3-venv
  dataset-fashion-mnist                     # real data: Fashion-MNIST under /usr/share/datasets
  gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi  # firmware toolchain
  qemu-system-arm                           # emulated Cortex-M boards
  gcc libc6-dev                             # host C compiler: build-time kernel tables, host bit-exactness checks
  make                                      # builds the generated library's Makefile (tinyee generate, tests)
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || {
  echo "tinyee's pinned stack needs Python 3.11 (found $("$PYTHON" --version)); set PYTHON=..." >&2; exit 1; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
.venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
echo "tinyee is set up: .venv/bin/tinyee --help"
