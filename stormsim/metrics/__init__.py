"""Recorder (plain records, no pandas) -> frames (pandas) -> KPIs."""
