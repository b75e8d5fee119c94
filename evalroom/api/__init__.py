"""The HTTP and websocket interface of the coordinator (FastAPI). Routes parse and authorise, then call
``evalroom.services``; they hold no logic of their own."""
