"""The law's data at the edge: rate files (shipped and the project's own) read, checked and handed to the pure
calculators in `dunflow.domain.law`."""
