// The Snapshot module: see DESIGN.md. Its issue fills it in.
