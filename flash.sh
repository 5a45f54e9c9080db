#!/usr/bin/env bash
# Put the softland firmware on a board: a thin wrapper over `softland flash`.
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: ./flash.sh PORT [--board NAME] [--mpy] [--no-run]
       ./flash.sh --board NAME [--mpy] [--no-run]     (no PORT: found by the board's USB id,
                                                       or its mounted CIRCUITPY drive)

  PORT          serial device (/dev/ttyACM0, COM3), mpremote shortcut (a0, u0, c0), auto,
                or the mounted CIRCUITPY drive for CircuitPython boards
  --board NAME  board from boards/ (default: pico); `softland boards` lists them
  --mpy         compile fsw/ modules to .mpy with mpy-cross
  --no-run      copy only, do not reset the board
USAGE
}

if [[ $# -lt 1 ]]; then
    usage >&2
    exit 2
fi
if [[ "$1" == "-h" || "$1" == "--help" ]]; then
    usage
    exit 0
fi

if command -v softland >/dev/null 2>&1; then
    exec softland flash "$@"
fi
# Not installed: run from this checkout.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONPATH="$here/host${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m softland.cli flash "$@"
