"""`ingest --ray`: the driver (`driver`), the workers' stages (`stages`) and the Parquet staging
folder between them (`staging`). Ray itself is imported only inside the functions that use it.
"""
