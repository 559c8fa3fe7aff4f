"""The seven services of the mesh, the `fte` command line and the all-in-one stack."""
