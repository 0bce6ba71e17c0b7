"""Release: turn the instructor source in ``solutions/`` into what students receive."""
