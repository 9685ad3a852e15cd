"""Pure AIBrix controller logic: reconcile(observed snapshot) -> actions. No SimPy, no time.

Mirrors the StormService and RoleSet controllers and their role syncers of AIBrix commit
e3e10f9e one to one; ``docs/aibrix/`` describes what they do, citing the upstream Go files
and functions.
"""
