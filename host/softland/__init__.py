"""softland: host side of a LIDAR-guided soft-landing flight software."""

__version__ = "0.1.0"
