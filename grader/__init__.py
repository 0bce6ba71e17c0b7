"""Course tooling: stub release, checks, sandboxed autograding, exports."""
