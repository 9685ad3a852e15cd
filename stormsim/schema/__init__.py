"""Pydantic v2 models of scenarios and AIBrix objects, and YAML loading with line numbers."""
