"""EmoScope's Streamlit shell: entry point, cached adapters to core, shared widgets and charts."""
