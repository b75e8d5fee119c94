"""Sites: venues, regions, rooms, seats and their devices, the seat calendar, offers between venues, and the
site agent that runs at each venue and speaks to the coordinator.

May use ``media`` and ``signing``; must never import ``evalroom`` (docs/architecture.md).
"""
