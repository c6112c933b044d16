"""The emotion2vec+ model: decoding audio (`audio`), the engine (`engine`), hub downloads (`hub`),
untrained test models (`testmodel`) and the nine labels (`labels`).

torch and funasr are imported inside the functions that need them, never by importing this package.
"""
