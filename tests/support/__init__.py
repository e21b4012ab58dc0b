"""What the tests share, imported as a package (`from support.servers import ImageServer`); the
fixtures that build on it live in conftest.py."""
