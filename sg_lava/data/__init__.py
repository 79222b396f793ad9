"""Data: the paper's synthetic tasks and their recipes, a user's ``--data`` folders,
tonic datasets, streaming, and the converters into the ``--data`` layout."""
