"""Heyun's HTTP gateway: the JSON API of API.md, mapped onto the services' RPC."""
