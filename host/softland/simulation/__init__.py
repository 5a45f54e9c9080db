"""Simulation: the world the firmware flies in on the host. Scenarios (the built-in TOML files
in scenarios/ and their loader), Monte Carlo dispersions, the vehicle's dynamics, the simple
sensor models (IMU, rangefinder), the closed-loop run that puts the firmware in that loop
(sim), seeded campaigns over many runs (mc), and the fuel optimum a descent is measured
against (optimal)."""
