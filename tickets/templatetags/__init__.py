"""Template tags of the tickets app."""
