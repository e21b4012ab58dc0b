"""vidgate: a self-hosted, drop-in server for the VIDU Q2 Pro image-to-video async API."""

__version__ = "0.1.0"
