"""One module per upload API: its JSON, its errors, its limits."""
