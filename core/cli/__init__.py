"""`python -m core ...`: the parser and the ingest/score/export/info commands (`main`), access
commands (`access`) and the model check (`evaluate`).
"""
