"""Register-level emulators of the sensors the firmware's drivers talk to."""
