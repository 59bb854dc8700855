"""Glue the GitHub workflows call: each workflow step is one `modelops` command.

The workflows in .github/workflows stay thin; anything with a decision in it (which version a
commit produced, whether the canary is healthy, what goes into a promotion PR) lives here,
in Python, where it is tested.
"""
