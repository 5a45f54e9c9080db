# Backup stores: where fsw.persist's record survives a reset of the flight computer.
# readinto(buf) -> bytes read (0: nothing stored); write(buf) stores the whole record.
try:
    import os
except ImportError:
    os = None


class FileBackup:
    """A file standing in for battery-backed RAM: the SIL runner's (SOFTLAND_BACKUP names it).
    Rewritten in place every tick; not for a board's flash, which would wear out."""

    def __init__(self, path):
        try:
            self._f = open(path, "r+b")
        except OSError:
            self._f = open(path, "w+b")

    def readinto(self, buf):
        self._f.seek(0)
        n = self._f.readinto(buf)
        return n or 0

    def write(self, buf):
        self._f.seek(0)
        self._f.write(buf)


class RtcBackup:
    """RTC slow memory (ESP32: machine.RTC().memory(), 2 KB, kept across soft and watchdog
    resets, lost on power-off)."""

    def __init__(self, rtc):
        self._rtc = rtc

    def readinto(self, buf):
        data = self._rtc.memory()
        n = min(len(data), len(buf))
        buf[:n] = data[:n]
        return n

    def write(self, buf):
        self._rtc.memory(buf)


def open_backup(region=""):
    # the SIL runner's file when it names one, else RTC memory where the port has it, else
    # None (no persistence: a reset boots into SAFE). region: another store beside the state's
    # ("log": the flight log's RAM block, fsw/flightlog.py), a file of its own in SIL; the RTC
    # memory (2 KB) holds the state record only, so a region there is None
    path = None
    if os is not None and hasattr(os, "getenv"):
        path = os.getenv("SOFTLAND_BACKUP")
    if path:
        return FileBackup(path + "." + region if region else path)
    if region:
        return None
    try:
        import machine

        rtc = machine.RTC()
        if hasattr(rtc, "memory"):
            return RtcBackup(rtc)
    except (ImportError, AttributeError, OSError):
        pass
    return None
