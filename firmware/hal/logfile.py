# Where the onboard flight log (fsw/flightlog.py) lives: a file named by the SIL runner
# (SOFTLAND_FLIGHTLOG, capacity SOFTLAND_FLIGHTLOG_RECORDS) or by a board's board_config
# ("flightlog": path, "flightlog_records": n). None: no log. A log that cannot be opened costs
# the log, never the flight.
try:
    import os
except ImportError:
    os = None

DEFAULT_RECORDS = 16384  # 2 MB: 5.5 minutes at 50 Hz


def open_flightlog(path=None, records=None):
    if path is None and os is not None and hasattr(os, "getenv"):
        path = os.getenv("SOFTLAND_FLIGHTLOG")
        if path and records is None:
            n = os.getenv("SOFTLAND_FLIGHTLOG_RECORDS")
            records = int(n) if n else None
    if not path:
        return None
    from fsw.flightlog import open_log
    from hal.backup import open_backup

    try:
        # the log's RAM block survives a reset where a backup store has room for it
        return open_log(path, records or DEFAULT_RECORDS, tail=open_backup("log"))
    except (OSError, ValueError) as exc:
        import sys

        print("flight log %s not opened: %s" % (path, exc), file=sys.stderr)
        return None
