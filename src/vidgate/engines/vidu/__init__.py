"""The vidu engine: vidgate as a gateway in front of the official Vidu API (docs/engines.md).

`limits` is import-light (the API process reads it); `engine` (httpx, PyAV) is loaded by workers only.
"""
