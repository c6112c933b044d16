"""EmoScope core: audio decoding, the emotion2vec+ engine, the DuckDB store, ingest, export, CLI.

Nothing in this package imports streamlit; heavy libraries (torch, funasr, umap) are imported
inside the functions that need them so that `import core.store.database` stays cheap.
"""
