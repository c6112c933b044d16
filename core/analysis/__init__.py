"""Analyses over stored results, free of SQL: frame curves and periods (`curves`), the Overview's
statistics (`overview`), clusters and maps (`clusters`, `projection`) and the model check's
arithmetic (`evaluation`).
"""
