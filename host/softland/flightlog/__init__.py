"""The onboard flight log on the host: read, export, plot, pull, replay (docs/flightlog.md)."""
