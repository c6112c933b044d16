"""Similar recordings by embedding (#27): the nearest-neighbour index beside the database
(core.search.index: its files, opened for searching), how many inverted lists a search probes
(core.search.calibration, measured on the index's own rows), keeping it in step with the
database (core.search.sync) and the searches the CLI and the dashboard run (core.search.similar)."""
