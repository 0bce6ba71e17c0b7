"""Batch autograding: intake of uploads, sandboxed grading, one nbgrader gradebook, exports."""
