"""Pattern synthesis: gradient ascent on the input, built from small pieces (objectives, parameterizations,
transforms, the render loop). The modules are mapped in docs/architecture.md."""
