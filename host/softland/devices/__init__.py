"""Devices: host-side models of the sensors the firmware's drivers talk to, byte for byte. The
LIDAR-Lite v3/v3HP emulated register by register behind an I2C bus (lidarlite), the LSM6DSOX
accelerometer on the same bus (lsm6dsox), the long-range laser rangefinder's serial frames
and faults (lrf), and a free-falling target for the drop test (freefall)."""
