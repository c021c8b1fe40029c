"""Natural images: datasets as people store them, and one streamed scan of them for every map's statistics."""
