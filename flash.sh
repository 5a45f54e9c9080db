#!/usr/bin/env bash
# Put the softland firmware on a board: a thin wrapper over `softland flash`.
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: ./flash.sh PORT [--board NAME] [--mpy] [--no-run]

  PORT          serial device (/dev/ttyACM0, COM3), mpremote shortcut (a0, u0, c0, auto),
                or the mounted CIRCUITPY drive for CircuitPython boards
  --board NAME  board from boards/ (default: pico); `softland boards` lists them
  --mpy         compile fsw/ modules to .mpy with mpy-cross
  --no-run      copy only, do not reset the board
USAGE
}

if [[ $# -lt 1 || "$1" == -* ]]; then
    if [[ $# -ge 1 && ( "$1" == "-h" || "$1" == "--help" ) ]]; then
        usage
        exit 0
    fi
    usage >&2
    exit 2
fi

if command -v softland >/dev/null 2>&1; then
    exec softland flash "$@"
fi
# Not installed: run from this checkout.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONPATH="$here/host${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m softland.cli flash "$@"
