"""Getting recordings in: input files (`sources`), metadata (`metadata`), read and decode
(`reading`), the pipelined ingest (`pipeline`), long recordings (`longform`), the old UI's result
folders (`result_folders`), and the Ray driver and workers (`ray`).
"""
