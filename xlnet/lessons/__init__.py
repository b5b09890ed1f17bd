"""Lessons: each a preset of spec and sheets, not a code path of its own."""
