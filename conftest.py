# Nameko runs on eventlet: patch before anything imports sockets or threads.
import eventlet

eventlet.monkey_patch()

pytest_plugins = ["heyun.testing"]
