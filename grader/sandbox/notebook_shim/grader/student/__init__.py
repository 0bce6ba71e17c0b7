"""Stand-in for the student-side tools while the autograder executes a notebook."""
