"""Fakes of upstream providers, as real HTTP servers on 127.0.0.1."""
