"""The command-line interface (`regulars ...`)."""
