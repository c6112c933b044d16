"""Similar recordings by embedding (#27): the nearest-neighbour index beside the database
(core.search.index) and the searches the CLI and the dashboard run (core.search.similar)."""
