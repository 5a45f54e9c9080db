# softland loader: the board's main.py, written by `softland flash` (docs/flashing.md).
# It runs the active firmware version from fw/<slot>/ (slots a and b, named in fw/state) and
# counts the boots of a version that has not confirmed it started: after MAX_TRIES such boots
# it switches back to the previous version. The firmware confirms by calling
# __main__.softland_confirm() once it reaches its loop. fw/state is only ever replaced whole
# (written to fw/state.new, then renamed), so a reset at any moment leaves one complete state.
import os
import sys

MAX_TRIES = 3
STATE = "fw/state"
KEYS = ("active", "version", "previous", "previous_version", "previous_confirmed", "tries")


def _read(path):
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except OSError:
        return None
    state = {}
    for line in lines:
        parts = line.split(" ", 1)
        if len(parts) == 2:
            state[parts[0]] = parts[1]
    if state.get("end") != "ok" or any(k not in state for k in KEYS):
        return None  # cut short: not a state
    return state


def _load():
    # fw/state.new is complete whenever it is renamed; on FAT a rename removes the target
    # first, so a reset between the two leaves only fw/state.new.
    state = _read(STATE)
    return state if state is not None else _read(STATE + ".new")


def _save(state):
    with open(STATE + ".new", "w") as f:
        for key in sorted(state):
            if key != "end":
                f.write(f"{key} {state[key]}\n")
        f.write("end ok\n")
    os.rename(STATE + ".new", STATE)


def softland_confirm():
    """The firmware started: keep this version (called once it reaches its loop)."""
    state = _load()
    if state is not None and state.get("confirmed") != "1":
        state["confirmed"] = "1"
        state["tries"] = "0"
        _save(state)


def _boot():
    state = _load()
    if state is None:
        print("softland loader: no fw/state; flash the firmware with softland flash")
        return None
    if state.get("confirmed") != "1":
        tries = int(state["tries"])
        if tries >= MAX_TRIES and state["previous"] != "-":
            failed = state["version"]
            state = {
                "active": state["previous"],
                "version": state["previous_version"],
                "confirmed": state["previous_confirmed"],
                "previous": "-",
                "previous_version": "-",
                "previous_confirmed": "0",
                "tries": "0",
                "rolled_back": failed,
            }
            _save(state)
            print(
                "softland loader: version {} failed to start {} times; rolled back to {}".format(
                    failed, tries, state["version"]
                )
            )
        elif tries < MAX_TRIES:
            state["tries"] = str(tries + 1)
            _save(state)
        # else: nothing to go back to; run it without writing at every boot
    return state


def _reset():
    try:
        import machine

        machine.reset()
    except (ImportError, AttributeError):
        pass
    sys.exit(1)  # the unix port: no machine.reset()


_state = _boot()
if _state is not None:
    sys.path.insert(0, "fw/" + _state["active"])
    try:
        import main  # noqa: F401  (the active version's main.py)
    except Exception as e:
        now = _load()
        if now is None or now.get("confirmed") == "1" or now["previous"] == "-":
            raise
        sys.print_exception(e)
        print(
            "softland loader: version {} failed to start (boot {} of {}); resetting".format(
                now["version"], now["tries"], MAX_TRIES
            )
        )
        _reset()
