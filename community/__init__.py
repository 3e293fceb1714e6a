"""What is platform-wide but not kernel mechanics: the list of services (``community.services``)."""
