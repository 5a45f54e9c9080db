"""Stand-in `watchdog`: WatchDogMode and WatchDogTimeout."""


class WatchDogMode:
    RAISE = "RAISE"
    RESET = "RESET"


class WatchDogTimeout(Exception):
    pass
