"""Plain torch.nn networks, one family per file, no Lightning inside: lift any of them out."""
