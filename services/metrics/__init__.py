"""metrics: read-only counters per channel from every subject of the mesh."""
