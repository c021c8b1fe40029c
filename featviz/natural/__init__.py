"""Natural images: datasets as people store them, one streamed scan of them for every map's statistics, and a
layer's activation vectors at sampled positions."""
