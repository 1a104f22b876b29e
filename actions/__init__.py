"""Actions: what leaves the house once the warehouse is right (dunning, factoring).

Everything an action sends is first recorded as intent in an outbox table.
"""
