"""Analysis: measuring and reporting what the firmware did. A run's summary, telemetry CSV and
plot (report), the small-int tracing checker over the firmware's arithmetic (intcheck), SIL
speed per runtime (bench; `python -m softland.analysis.bench`), and each per-tick
component's cost on the emulated board (pil)."""
