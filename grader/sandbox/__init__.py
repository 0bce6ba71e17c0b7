"""Running student code in a child process (optionally sandboxed) and talking to it."""
