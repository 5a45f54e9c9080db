# Integer helpers for the control path: every value stays within +/-2^30.


def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def isqrt(n):
    # floor(sqrt(n)) for 0 <= n < 2^30, bit by bit: 15 iterations, no multiplication
    if n <= 0:
        return 0
    root = 0
    bit = 1 << 28
    while bit > n:
        bit >>= 2
    while bit:
        trial = root + bit
        if n >= trial:
            n -= trial
            root = (root >> 1) + bit
        else:
            root >>= 1
        bit >>= 2
    return root


def isqrt_near(n, hint):
    # floor(sqrt(n)) for 0 <= n < 2^30, by Newton's iteration from hint (the last tick's root:
    # 2-3 steps, against isqrt's 15 rounds of a loop, ~0.1 ms against ~0.7 ms on a 16 MHz
    # Cortex-M0). Any hint gives the same result; one outside 2 .. 2^15 falls back to isqrt
    # (x + n // x must stay within 2^30)
    if n <= 0:
        return 0
    if hint < 2 or hint > 32768:
        return isqrt(n)
    # one step from any x > 0 lands at or above the root; from there the steps go down
    # strictly until the root, where the next one does not
    x = (hint + n // hint) >> 1
    y = (x + n // x) >> 1
    while y < x:
        x = y
        y = (x + n // x) >> 1
    return x


# virtual and real tick counters wrap at 2^30, like MicroPython's ticks_us()
TICKS_MASK = 0x3FFFFFFF
TICKS_HALF = 0x20000000


def ticks_diff(a, b):
    # signed difference a - b of two wrapping tick values, as time.ticks_diff; every
    # intermediate stays within +/-2^30 for any small-int a, b (a time from the link may be
    # negative: it is taken modulo 2^30 first)
    d = ((a & TICKS_MASK) - (b & TICKS_MASK)) & TICKS_MASK
    if d >= TICKS_HALF:
        d = d - TICKS_HALF - TICKS_HALF
    return d


def ticks_add(a, delta):
    # (a + delta) modulo 2^30 with no intermediate beyond 2^30 (a + delta itself may pass it)
    a &= TICKS_MASK
    d = delta & TICKS_MASK
    r = a - (TICKS_MASK - d) - 1  # a + d - 2^30
    if r >= 0:
        return r
    return a + d
