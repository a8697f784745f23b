"""The chaos suite (issue 11): faults against the embedded platform under a steady write load."""
