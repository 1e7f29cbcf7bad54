"""One module per area of the CLI; each parses options, calls the library, and prints."""
