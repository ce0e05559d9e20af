// The KubeAPI module: see DESIGN.md. Its issue fills it in.
