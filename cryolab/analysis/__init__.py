"""Live analysis of the night's data: Eq. 1 / Eq. 2 fits, model choice, field summary, report."""
