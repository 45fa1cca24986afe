#!/usr/bin/env bash
# Installs the Debian packages the given jobs need, when they are missing:
#   chromium       headless browser for the webgl/webgpu tests and benchmarks (/usr/bin/chromium), plus
#                  libvulkan1 so that Dawn (npm 'webgpu') finds Chromium's SwiftShader in Node
#   fashion-mnist  the Fashion-MNIST image set used by the ablation app (/usr/share/datasets/fashion-mnist)
# Needs root (or sudo) and apt-get; elsewhere it says what to install and exits non-zero.
set -euo pipefail

need=()
for what in "$@"; do
  case "$what" in
    chromium)
      [ -x /usr/bin/chromium ] || need+=(chromium)
      ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' || need+=(libvulkan1)
      ;;
    fashion-mnist) [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist) ;;
    *) echo "ensure-system-deps: unknown dependency '$what' (known: chromium, fashion-mnist)" >&2; exit 2 ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-system-deps: please install the Debian/Ubuntu packages: ${need[*]} (apt-get not found)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-system-deps: run as root or install: ${need[*]}" >&2
    exit 1
  fi
fi
echo "ensure-system-deps: installing ${need[*]}" >&2
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
