"""Sources: readers that turn files into bytes, and pure parsers that turn bytes into records."""
