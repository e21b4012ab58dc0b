"""docs/security.md says what the attacks do: its tables are rendered again here and must match."""

from __future__ import annotations

from security.table import BEGIN, DOC, END, document_with, render


def test_the_attack_tables_in_docs_security_md_match_what_the_code_does() -> None:
    text = DOC.read_text()
    assert BEGIN in text and END in text
    assert text == document_with(render(), text), "run `make security-table` and review the change"
