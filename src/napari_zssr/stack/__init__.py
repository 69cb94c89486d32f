"""n-D stacks: the plan of a run, its units of work, where they run and where results go. No napari, no Qt."""
